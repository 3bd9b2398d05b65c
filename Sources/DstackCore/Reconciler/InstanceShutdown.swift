import Foundation

/// Taking instances away on purpose (a lowered max, `disable`, `clear`, `dstack instances
/// terminate`, the reconciler's own terminations) goes one way: journal first, then call
/// the cloud, then forget what is gone. A crash after the journal leaves instances state
/// no longer knows, which the reconciler's next pass sweeps; never the reverse, a
/// terminated instance whose run state still thinks is running.
public enum InstanceShutdown {
    /// What became of one instance taken away.
    public struct Outcome: Sendable, Equatable {
        public var instanceID: String
        /// The run it had, sent back to the queue as a retry that does not count.
        public var requeuedRunID: String?

        public init(instanceID: String, requeuedRunID: String?) {
            self.instanceID = instanceID
            self.requeuedRunID = requeuedRunID
        }
    }

    /// The journal step for one instance: state forgets its runner, and its run goes back
    /// to pending. dstack took the instance away, which is no fault of the run, so this
    /// does not use up the run's retries. Returns the run sent back, if any.
    @discardableResult
    public static func journal(instanceID: String, why: String, tx: StateTransaction, at now: Date = Date()) throws -> String? {
        let runID = try tx.fleetInstance(instanceID)?.runID
        try tx.removeInstance(instanceID)
        guard let runID else { return nil }
        let outcome = try tx.requeueRun(runID, why: "its instance \(instanceID) was shut down: \(why)", counts: false,
                                        maxRetries: 0, at: now)
        return outcome == .retrying ? runID : nil
    }

    /// Journals, terminates (cancelling the instances' spot requests) and forgets `instances`,
    /// as listed by the cloud. A launch batch whose every live instance or request goes
    /// is closed: its runners will not come, and that is not a failed launch of its runs.
    @discardableResult
    public static func shutDown(_ instances: [ManagedInstance], why: String, workspace: Workspace,
                                active: ActiveProvider, listed cloud: [ManagedInstance]) async throws -> [Outcome] {
        guard !instances.isEmpty else { return [] }
        let target = TerminationTarget(instances: instances)
        let going = Set(instances.map(\.id))
        let state = try workspace.state()
        let outcomes: [Outcome] = try state.write { tx in
            let fleet = try tx.fleet(vendor: active.vendor)
            for batch in try tx.openBatches(vendor: active.vendor) {
                let recorded = Set(fleet.filter { $0.launchToken == batch.token && $0.registeredAt == nil }.map(\.id))
                let items = cloud.filter { $0.state.isLive && batch.owns($0, recorded: recorded) }
                let unregistered = items.filter { item in !fleet.contains { $0.id == item.id && $0.registeredAt != nil } }
                if !unregistered.isEmpty, unregistered.allSatisfy({ going.contains($0.id) }) {
                    try tx.closeBatch(token: batch.token)
                }
            }
            try tx.journalTermination(target, vendor: active.vendor, at: Date())
            return try instances.map { instance in
                Outcome(instanceID: instance.id, requeuedRunID: try journal(instanceID: instance.id, why: why, tx: tx))
            }
        }
        try await active.provider.terminate(target)
        try state.write { try $0.forget(target, vendor: active.vendor) }
        return outcomes
    }
}
