import DstackWire
import Foundation

/// After registration: long-poll for an assignment, run it, report its exit code
/// (retried until it lands), poll again. While the server is unreachable or refuses
/// the token, it keeps polling with backoff; the dead man's switch decides when to
/// give up, not this loop.
final class WorkLoop {
    private let client: RunnerAPIClient
    private let executor: RunExecutor
    private let lifetime: Lifetime
    private let log: RunnerLog

    init(client: RunnerAPIClient, executor: RunExecutor, lifetime: Lifetime, log: RunnerLog) {
        self.client = client
        self.executor = executor
        self.lifetime = lifetime
        self.log = log
    }

    func run() {
        var backoff = Backoff(base: 0.5, cap: 10)
        var trouble: String?
        var lastFinished: (runID: String, attempt: Int)?
        while !lifetime.isStopped {
            switch client.pollAssignment() {
            case .success(let assignment):
                let receivedAt = ContactClock.now()
                backoff.reset()
                if trouble != nil { log("the server answers again") }
                trouble = nil
                guard let assignment else { continue }
                if let lastFinished, lastFinished.runID == assignment.runID, lastFinished.attempt == assignment.attempt {
                    // The server has not taken in our exit report yet; do not run it twice.
                    lifetime.sleep(1)
                    continue
                }
                log("run \(assignment.runID) attempt \(assignment.attempt): \(assignment.commands.count) command(s)")
                let code = executor.execute(assignment, receivedAt: receivedAt)
                guard !lifetime.isStopped else { return }
                client.reportExit(runID: assignment.runID, exit: RunnerAPI.RunExit(attempt: assignment.attempt, exitCode: code))
                lastFinished = (assignment.runID, assignment.attempt)
            case .failure(let error):
                let problem = error.description
                if trouble != problem { log("polling for work failed, retrying: \(problem)") }
                trouble = problem
                lifetime.sleep(backoff.nextDelay())
            }
        }
    }
}

/// A heartbeat every interval, idle or busy; a `stop: true` reply stops the current run.
final class HeartbeatLoop: Sendable {
    private let client: RunnerAPIClient
    private let executor: RunExecutor
    private let interval: TimeInterval
    private let lifetime: Lifetime
    private let log: RunnerLog

    init(client: RunnerAPIClient, executor: RunExecutor, interval: TimeInterval, lifetime: Lifetime, log: RunnerLog) {
        self.client = client
        self.executor = executor
        self.interval = interval
        self.lifetime = lifetime
        self.log = log
    }

    func run() {
        var failing = false
        while lifetime.sleep(interval) {
            let running = executor.currentRun
            switch client.heartbeat(RunnerAPI.Heartbeat(runID: running?.runID, attempt: running?.attempt)) {
            case .success(let control):
                failing = false
                if control.stop, let running { executor.requestStop(runID: running.runID, attempt: running.attempt) }
            case .failure(let error):
                if !failing { log("heartbeat failed: \(error)") }
                failing = true
            }
        }
    }
}

/// Takes the orphan action when the server has not answered for the orphan timeout.
final class DeadMansSwitch: Sendable {
    private let contact: ContactClock
    private let timeout: TimeInterval
    private let lifetime: Lifetime
    private let fire: @Sendable (String) -> Void

    init(contact: ContactClock, timeout: TimeInterval, lifetime: Lifetime, fire: @escaping @Sendable (String) -> Void) {
        self.contact = contact
        self.timeout = timeout
        self.lifetime = lifetime
        self.fire = fire
    }

    func run() {
        while lifetime.sleep(min(1, timeout / 4)) {
            let silence = contact.secondsSinceContact
            if silence >= timeout {
                fire("no answer from the server for \(Int(silence)) s (orphan timeout \(Int(timeout)) s)")
                return
            }
        }
    }
}
