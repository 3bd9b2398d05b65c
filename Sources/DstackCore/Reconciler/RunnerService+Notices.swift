import Foundation

extension RunnerService {
    /// A runner's notice from its instance's metadata service. An interruption is acted
    /// on here, in one transaction (the run is requeued before the reply), and the
    /// reconcile loop is woken so that the replacement is launched in its next pass. A
    /// rebalance recommendation applies its rule's policy.
    public func notice(instanceID: String, _ notice: RunnerAPI.SpotNotice, at now: Date = Date()) throws {
        let time = notice.time.flatMap(Self.parseNoticeTime)
        switch notice.kind {
        case .interruption:
            let signal = SpotInterruptions.noticeSignal(action: notice.action, time: time)
            let outcome = try workspace.state().write { tx in
                try SpotInterruptions.record(instanceID: instanceID, signal: signal, terminateAt: time, tx: tx, now: now,
                                             maxRetries: maxRetries)
            }
            guard let outcome else { return } // an earlier signal won
            onInterrupted?(instanceID, signal)
            let run = outcome.instance.runID.map { outcome.requeuedRunID != nil ? "; run \($0) requeued" : "; run \($0) out of retries" } ?? ""
            onEvent?("instance \(instanceID) (\(outcome.instance.instanceType)\(outcome.instance.zone.map { " in \($0)" } ?? "")): \(signal)\(run)")
        case .rebalance:
            let applied: RebalancePolicy? = try workspace.state().write { tx in
                guard let instance = try tx.fleetInstance(instanceID), instance.interruption == nil else { return nil }
                let policy = try tx.rebalancePolicy(for: instance.instanceType)
                guard policy != .ignore, try tx.markDraining(instanceID: instanceID, policy: policy.rawValue) else { return nil }
                if policy == .replace {
                    // A launch the planner carries out within the max, which the drained instance no longer counts in.
                    try tx.addInstanceRequest(id: "rebalance-\(instanceID)", instanceType: instance.instanceType, count: 1, at: now)
                }
                return policy
            }
            guard let applied else { return }
            onEvent?("instance \(instanceID): rebalance recommendation; its rule's policy is \(applied.rawValue)")
        }
        wakeReconciler()
    }

    /// The metadata service writes `2026-11-29T12:04:31Z`; fractions are accepted too.
    static func parseNoticeTime(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
