import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs one assignment: a fresh working directory, each command with `/bin/sh -c` in
/// order until one fails, output streamed to the server, the exit code returned. A stop
/// (from the server or from the runner shutting down) sends SIGTERM to the command's
/// process group and SIGKILL 10 s later.
public final class RunExecutor: @unchecked Sendable {
    public static let killGrace: TimeInterval = 10

    private let client: RunnerAPIClient
    private let stateDirectory: String
    private let log: RunnerLog
    private let baseEnvironment: [String: String]
    private let lock = NSLock()
    /// The process group of the command running now, if any.
    private var group: pid_t?
    private var current: (runID: String, attempt: Int)?
    private var stopRequested = false
    private var shuttingDown = false
    private let killTimers = DispatchQueue(label: "dstack-runner.kill-timers")

    public init(client: RunnerAPIClient, stateDirectory: String, log: RunnerLog,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.client = client
        self.stateDirectory = stateDirectory
        self.log = log
        // The commands of a run never see the registration token.
        baseEnvironment = environment.filter { $0.key != RunnerOptions.registrationTokenVariable }
    }

    private var isStopRequested: Bool { lock.withLock { stopRequested } }

    /// The run executing now, for heartbeats.
    public var currentRun: (runID: String, attempt: Int)? { lock.withLock { current } }

    /// Runs the assignment and returns its exit code: the first non-zero exit, or 0.
    /// `receivedAt` (monotonic) is when its reply arrived, for the latency log line.
    public func execute(_ assignment: RunnerAPI.Assignment, receivedAt: TimeInterval) -> Int {
        // The hot path from the reply to the first spawn: a directory and posix_spawn, no waits.
        lock.withLock {
            current = (assignment.runID, assignment.attempt)
            stopRequested = false
        }
        defer { lock.withLock { current = nil } }
        let directory: String
        do { directory = try freshWorkingDirectory(assignment) } catch {
            log("run \(assignment.runID) attempt \(assignment.attempt): \(error)")
            return 1
        }
        var environment = baseEnvironment
        // The workflow's env, then dstack's own variables; the registration token stays
        // out whatever the env says.
        environment.merge(assignment.env) { _, workflow in workflow }
        environment[RunnerOptions.registrationTokenVariable] = nil
        environment["DSTACK_RUN_ID"] = assignment.runID
        environment["DSTACK_RUN_ATTEMPT"] = String(assignment.attempt)
        environment["PWD"] = directory
        let shipper = LogShipper(attempt: assignment.attempt,
                                 send: { [client] chunk in client.sendLog(runID: assignment.runID, chunk: chunk) },
                                 onStop: { [weak self] in self?.requestStop(runID: assignment.runID, attempt: assignment.attempt) })
        if let code = assignment.code {
            do {
                try CodeUnpacker(client: client, stateDirectory: stateDirectory, environment: baseEnvironment)
                    .unpack(code, runID: assignment.runID, into: directory)
            } catch {
                let line = "[dstack] \(error)\n"
                shipper.enqueue(.stderr, Array(line.utf8))
                shipper.finish()
                log("run \(assignment.runID) attempt \(assignment.attempt): \(error)")
                return 1
            }
        }
        if !assignment.deps.isEmpty {
            do {
                let (count, bytes) = try DepDownloader(transfer: ArtifactTransfer(client: client), lifetime: client.lifetime)
                    .download(runID: assignment.runID, into: directory)
                shipper.enqueue(.stderr, Array("[dstack] deps: \(count) file(s), \(ByteCount.text(bytes)) from \(assignment.deps.joined(separator: ", "))\n".utf8))
            } catch {
                shipper.enqueue(.stderr, Array("[dstack] \(error)\n".utf8))
                shipper.finish()
                log("run \(assignment.runID) attempt \(assignment.attempt): \(error)")
                return 1
            }
        }
        var exitCode = 0
        for (index, command) in assignment.commands.enumerated() {
            exitCode = runCommand(command, in: directory, environment: environment, shipper: shipper) { pid in
                if index == 0 {
                    let elapsed = (ContactClock.now() - receivedAt) * 1000
                    self.log("run \(assignment.runID) attempt \(assignment.attempt): first command started (pid \(pid)) "
                        + String(format: "%.1f ms after the assignment arrived", elapsed))
                }
            }
            if exitCode != 0 || lock.withLock({ stopRequested }) { break }
        }
        // Whatever the exit code, but never for a run that was stopped or interrupted.
        if !assignment.artifacts.isEmpty, !lock.withLock({ stopRequested || shuttingDown }) {
            let uploader = ArtifactUploader(
                transfer: ArtifactTransfer(client: client), lifetime: client.lifetime,
                note: { line in shipper.enqueue(.stderr, Array("[dstack] \(line)\n".utf8)) },
                stopped: { [weak self] in self?.isStopRequested ?? true })
            if let line = uploader.upload(paths: assignment.artifacts, from: directory, runID: assignment.runID,
                                          attempt: assignment.attempt) {
                shipper.enqueue(.stderr, Array("[dstack] \(line)\n".utf8))
                log("run \(assignment.runID) attempt \(assignment.attempt): \(line)")
            }
        }
        shipper.finish()
        log("run \(assignment.runID) attempt \(assignment.attempt) exited with code \(exitCode)")
        return exitCode
    }

    /// Stops the run if it is still the one executing (a late stop for a finished run is ignored).
    public func requestStop(runID: String, attempt: Int) {
        lock.withLock {
            guard let current, current.runID == runID, current.attempt == attempt, !stopRequested else { return }
            stopRequested = true
            log("run \(runID) attempt \(attempt): the server asked to stop it")
            signalGroupThenKill(after: Self.killGrace)
        }
    }

    /// For SIGTERM/SIGINT and the orphan action: stops the command at once (SIGTERM,
    /// SIGKILL after `grace`), starts no other, and returns when its group is gone.
    public func killForShutdown(grace: TimeInterval = 2) {
        let target: pid_t? = lock.withLock {
            shuttingDown = true
            stopRequested = true
            return group
        }
        guard let target else { return }
        kill(-target, SIGTERM)
        let deadline = ContactClock.now() + grace
        while kill(-target, 0) == 0 && ContactClock.now() < deadline { usleep(20_000) }
        kill(-target, SIGKILL)
    }

    private func runCommand(_ command: String, in directory: String, environment: [String: String],
                            shipper: LogShipper, started: (pid_t) -> Void) -> Int {
        let process: CommandProcess
        do {
            process = try lock.withLock {
                guard !stopRequested, !shuttingDown else { throw SpawnError("stopped before it started") }
                let process = try CommandProcess(command: command, directory: directory, environment: environment)
                group = process.pid
                return process
            }
        } catch {
            log("command not started: \(error)")
            return lock.withLock { stopRequested } ? 128 + Int(SIGTERM) : 127
        }
        started(process.pid)
        let pump = OutputPump(stdout: process.stdout, stderr: process.stderr) { stream, bytes in shipper.enqueue(stream, bytes) }
        let pumped = DispatchSemaphore(value: 0)
        let reader = Thread {
            pump.run()
            pumped.signal()
        }
        reader.name = "dstack-runner output"
        reader.start()

        process.waitForExitWithoutReaping()
        // The shell is gone but not reaped, so its group ID is still ours: clear out what
        // it left running in the background, so nothing outlives its command.
        lock.withLock {
            kill(-process.pid, SIGKILL)
            group = nil
        }
        let code = process.reap()
        pump.stopWaitingAfter(2)
        pumped.wait()
        return code
    }

    /// Called with the lock held.
    private func signalGroupThenKill(after grace: TimeInterval) {
        guard let target = group else { return }
        kill(-target, SIGTERM)
        killTimers.asyncAfter(deadline: .now() + grace) { [weak self] in
            guard let self else { return }
            // Only if that same group is still the one running: its ID stays ours until reaped.
            self.lock.withLock {
                if self.group == target { kill(-target, SIGKILL) }
            }
        }
    }

    private func freshWorkingDirectory(_ assignment: RunnerAPI.Assignment) throws -> String {
        let safe = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") }
        let name = "\(assignment.runID)-\(assignment.attempt)".map { safe($0) ? $0 : "_" }
        let path = stateDirectory + "/work/" + String(name)
        let manager = FileManager.default
        if manager.fileExists(atPath: path) { try manager.removeItem(atPath: path) }
        try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
