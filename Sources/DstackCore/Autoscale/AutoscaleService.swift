import Foundation

/// What the server's API does to the fleet by hand, outside the planner: list what this
/// installation manages, and terminate instances a user names. Rule changes, `disable`
/// and `clear` only change state; the reconcile pass that follows decides what goes.
public struct AutoscaleService {
    public let workspace: Workspace

    public init(workspace: Workspace) {
        self.workspace = workspace
    }

    /// Live instances per type, for `autoscale info`.
    public static func liveCounts(_ instances: [ManagedInstance]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for instance in instances where instance.state.isLive { counts[instance.instanceType, default: 0] += 1 }
        return counts
    }

    // MARK: shared steps

    /// Every instance this installation manages, from the cloud, with what state knows.
    public func listManaged(_ active: ActiveProvider) async throws -> [ManagedInstance] {
        let known = try workspace.state().read { try $0.knownResources(vendor: active.vendor) }
        return try await active.provider.list(known: known)
    }

    /// `dstack instances terminate`: the named instances (IDs the cloud lists as live, or
    /// state knows), each run they had sent back to the queue as a retry that does not
    /// count. An ID that is neither is refused before anything changes.
    public func terminate(instanceIDs: [String]) async throws -> [InstanceShutdown.Outcome] {
        let active = try workspace.activeProvider()
        let listed = try await listManaged(active)
        let fleet = try workspace.state().read { try $0.fleet(vendor: active.vendor) }
        var chosen: [ManagedInstance] = []
        for id in instanceIDs where !chosen.contains(where: { $0.id == id }) {
            if let live = listed.first(where: { $0.id == id && $0.state.isLive }) {
                chosen.append(live)
            } else if let known = fleet.first(where: { $0.id == id }) {
                chosen.append(ManagedInstance(id: known.id, instanceType: known.instanceType, state: .terminated,
                                              spotRequestID: known.spotRequestID))
            } else {
                throw LaunchError.unknownInstance(id)
            }
        }
        return try await InstanceShutdown.shutDown(chosen, why: "terminated by hand (dstack instances terminate)",
                                                  workspace: workspace, active: active, listed: listed)
    }
}
