import DstackProject
import DstackProvider
import DstackWire
import Foundation

extension StateTransaction {
    /// What became of a run whose instance went away.
    public enum RequeueOutcome: Equatable {
        case retrying, outOfRetries, stopped, alreadyFinished
    }

    /// A run that lost its instance goes back to pending while it has retries left;
    /// its log keeps every attempt. `counts` is false when dstack itself took the
    /// instance away (a lowered max, disable, clear): that is not the run's fault and
    /// does not use up its retries.
    @discardableResult
    public func requeueRun(_ runID: String, why: String, counts: Bool, maxRetries: Int, at now: Date = Date()) throws -> RequeueOutcome {
        guard let run = try run(runID), !run.status.isFinished else { return .alreadyFinished }
        if run.stopRequested {
            try appendLog(runID: runID, attempt: run.attempt, stream: .system, text: "[dstack] stopped: \(why)\n", at: now)
            try setRunStatus(runID, .stopped, reason: "stopped by the user", at: now)
            return .stopped
        }
        let interruptions = counts ? try countInterruption(runID) : 0
        if interruptions > maxRetries {
            try appendLog(runID: runID, attempt: run.attempt, stream: .system,
                          text: "[dstack] attempt \(run.attempt) interrupted: \(why); no retries left\n", at: now)
            try setRunStatus(runID, .interrupted, reason: "\(why); retried \(maxRetries) times", at: now)
            return .outOfRetries
        }
        try appendLog(runID: runID, attempt: run.attempt, stream: .system,
                      text: "[dstack] attempt \(run.attempt) interrupted: \(why); it will be retried\n", at: now)
        try setRunStatus(runID, .pending, reason: "retrying: \(why)", at: now)
        try setRunStage(runID, nil)
        return .retrying
    }
}
