import DstackProvider

// Simulated instances: the local provider's load-test mode.
//
// `dstack local configure --simulated true` saves `"simulated": "true"` in the local
// provider's settings. From then on a launch starts no process: for each instance it
//   1. writes the record `$DSTACK_HOME/local/instances/<id>/instance.json` with
//      `"simulated": true` and no pid, then
//   2. writes the launch's user data to `…/<id>/user-data.sh` (mode 0700), last, so
//      that the file appearing means the instance is recorded.
// `list` reports a simulated instance as running until `terminate` removes its
// directory; nothing is signalled, since there is no process. No `dstack-runner` is
// needed, and `verifyConfiguration` does not look for one.
//
// Whoever plays the instances (the `dstack-benchmarks scale` benchmark) watches
// `$DSTACK_HOME/local/instances/`, and for each new `user-data.sh` runs a runner that
// speaks the real runner API with what the user data carries: the server's URL
// (`--server '…'`) and the launch's registration token
// (`export DSTACK_REGISTRATION_TOKEN='…'`); the instance ID is the directory's name.
// The server treats these instances exactly like real local ones: registration checks
// them against `list`, and the planner, the reconcile loop and the runner API run
// unchanged. So one process can stand in for a thousand runners on a small machine.
//
// Without the setting (or with `--simulated false`) nothing changes: launches spawn
// the user data (or `dstack-runner`) as before.
extension LocalProvider {
    /// The setting that turns `simulated` on.
    public static let simulatedSetting = "simulated"

    /// The `simulated` setting: absent or "false" is off, "true" on, anything else an error.
    public static func isSimulated(_ settings: ProviderSettings) throws -> Bool {
        switch settings[simulatedSetting]?.lowercased() {
        case nil, "", "false": return false
        case "true": return true
        case let other?:
            throw ProviderError.invalidConfiguration(detail: "--simulated must be true or false, not '\(other)'")
        }
    }
}
