// The wire types (HTTP, JSON, the runner API, hashing and atomic files) live in
// DstackWire so that the runner can link them without the state or the control plane;
// everything that imports the core sees them as before.
@_exported import DstackWire
// The provider model (the CloudProvider seam, plugins, their configure forms) lives in
// DstackProvider so that plugins and the registry link no state; the core re-exports it.
@_exported import DstackProvider
// What a run carries (workflows.yaml, its requirements, the code shipped with it) lives
// in DstackProject, so that the CLI reads a project without linking the state.
@_exported import DstackProject
// The state (state.db and the API's users) lives in DstackState; the control plane here
// (planner, reconciler) works on it.
@_exported import DstackState
