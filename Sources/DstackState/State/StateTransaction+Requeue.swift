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
        let policy = run.retryPolicy ?? .default
        if counts, !policy.allows(.interruption, submittedAt: run.submittedAt, now: now) {
            let rule = policy.retries(.interruption) ? "its retry duration has passed" : "its retry policy does not retry interruptions"
            try countInterruption(runID)
            try appendLog(runID: runID, attempt: run.attempt, stream: .system,
                          text: "[dstack] attempt \(run.attempt) interrupted: \(why); not retried: \(rule)\n", at: now)
            try setRunStatus(runID, .interrupted, reason: "\(why); not retried: \(rule)", at: now)
            try setRunStage(runID, nil)
            return .outOfRetries
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

extension StateTransaction {
    /// Stores a run's `retry:` policy (nil: the default).
    public func setRunRetryPolicy(_ runID: String, _ policy: RunRetryPolicy?) throws {
        try db.query("UPDATE runs SET retry_policy = ? WHERE id = ?", [policy.map { .text($0.storedText) } ?? .null, .text(runID)])
    }

    /// A run whose commands failed goes back to the queue when its policy retries errors,
    /// within `--max-retries` and its duration; returns whether it did.
    public func retryFailedRun(_ runID: String, exitCode: Int, maxRetries: Int, at now: Date = Date()) throws -> Bool {
        guard let run = try run(runID), !run.stopRequested, let policy = run.retryPolicy,
              policy.allows(.error, submittedAt: run.submittedAt, now: now), run.errorRetries < maxRetries else { return false }
        try db.query("UPDATE runs SET error_retries = error_retries + 1 WHERE id = ?", [.text(runID)])
        try appendLog(runID: runID, attempt: run.attempt, stream: .system, text: """
            [dstack] attempt \(run.attempt) failed with exit code \(exitCode); it will be retried (error retry \(run.errorRetries + 1) of \(maxRetries))\n
            """, at: now)
        try setRunStatus(runID, .pending, reason: "retrying: attempt \(run.attempt) failed with exit code \(exitCode)", exitCode: exitCode, at: now)
        try setRunStage(runID, nil)
        return true
    }
}
