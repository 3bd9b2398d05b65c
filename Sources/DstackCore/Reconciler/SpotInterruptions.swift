import Foundation

/// The cloud taking a spot instance back, from whichever signal says so first: the
/// runner's notice (the instance's metadata service), or what the cloud's list shows
/// (a spot request status, an instance state reason). The instance gets no more work,
/// its run goes back to the queue as an interruption (within the run's retries, never
/// a provisioning failure), and its pool (type and zone) is cooled so that a
/// replacement goes elsewhere when another pool fits. The instance itself is left for
/// the cloud to take; one still there after its termination time is terminated.
public enum SpotInterruptions {
    /// How long an interrupted pool is ranked after every other pool that fits.
    public static let poolCooldown: TimeInterval = 180
    /// How long after the announced termination time an instance the cloud still runs
    /// is terminated by dstack (the cloud may stop or hibernate instead, or a provider
    /// such as the local one takes nothing back by itself).
    public static let terminationGrace: TimeInterval = 30

    public struct Outcome: Sendable, Equatable {
        public var instance: FleetInstance
        /// The run sent back to the queue, if it had retries left.
        public var requeuedRunID: String?
    }

    /// Records the interruption of `instanceID`; nil when it is not registered or an
    /// earlier signal already did (the first signal wins).
    public static func record(instanceID: String, signal: String, terminateAt: Date?, tx: StateTransaction, now: Date,
                              maxRetries: Int) throws -> Outcome? {
        guard let instance = try tx.markInterrupted(instanceID: instanceID, signal: signal, terminateAt: terminateAt, at: now) else {
            return nil
        }
        try tx.coolOffering(OfferingCooldown(instanceType: instance.instanceType, zone: instance.zone ?? "",
                                             until: now.addingTimeInterval(poolCooldown),
                                             reason: "\(signal) on \(instanceID)", hard: false))
        guard let runID = instance.runID else { return Outcome(instance: instance, requeuedRunID: nil) }
        try tx.setRunInterruptedBy(runID, signal: signal)
        let outcome = try tx.requeueRun(runID, why: "\(signal) (instance \(instanceID))", counts: true, maxRetries: maxRetries, at: now)
        return Outcome(instance: instance, requeuedRunID: outcome == .retrying ? runID : nil)
    }

    /// "spot interruption notice, terminate at 12:04:31Z": the runner's notice in words.
    public static func noticeSignal(action: String?, time: Date?) -> String {
        var words = "spot interruption notice"
        if let time { words += ", \(action ?? "terminate") at \(clock(time))" } else if let action { words += ", \(action)" }
        return words
    }

    /// `HH:MM:SSZ` in UTC.
    static func clock(_ date: Date) -> String {
        String(ServerLog.timestamp(date).split(separator: "T").last ?? "")
    }
}
