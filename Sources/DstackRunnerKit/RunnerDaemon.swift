import DstackWire
import Foundation

/// The runner, minus the process around it: `main.swift` parses flags, owns the signals
/// and passes `terminate`, which ends the process (tests pass one that records the code).
///
/// Threads: `start()` returns at once; a worker thread finds the instance ID, records
/// the runner, registers and runs the work loop; with a server, a heartbeat thread and
/// the dead man's switch run beside it. Without a server (lifecycle-only mode) the
/// runner records itself and then only waits to be stopped.
public final class RunnerDaemon: @unchecked Sendable {
    public let options: RunnerOptions
    public let log: RunnerLog
    public let contact = ContactClock()
    public let lifetime = Lifetime()
    private let terminate: @Sendable (Int32) -> Void
    private let powerOffCommands: [[String]]
    private let lock = NSLock()
    private var executor: RunExecutor?
    private var ending = false

    /// `powerOffCommands` is there for tests; the runner uses `PowerOff.defaultCommands`.
    public init(options: RunnerOptions, log: RunnerLog = RunnerLog(), powerOffCommands: [[String]] = PowerOff.defaultCommands,
                terminate: @escaping @Sendable (Int32) -> Void) {
        self.options = options
        self.log = log
        self.powerOffCommands = powerOffCommands
        self.terminate = terminate
        options.registrationToken.map(log.addSecret)
    }

    public func start() {
        if options.serverURL != nil {
            // From the very start: a runner that never reaches the server must not bill forever either.
            let deadMansSwitch = DeadMansSwitch(contact: contact, timeout: options.orphanTimeout, lifetime: lifetime) { [self] reason in
                orphaned(reason)
            }
            spawn("dstack-runner orphan watch") { deadMansSwitch.run() }
        }
        spawn("dstack-runner main") { [self] in main() }
    }

    /// SIGTERM or SIGINT: kill the running command's process group, then end with 0. The
    /// run is not reported as finished: the server retries it as interrupted.
    public func stop(signalName: String) {
        guard beginEnding() else { return }
        log("\(signalName) received, stopping")
        finish(code: 0)
    }

    private func main() {
        guard let instanceID = resolveInstanceID() else { return }
        do {
            try RunnerRecord.write(instanceID: instanceID, pid: getpid(), startedAt: Date(), in: options.stateDirectory)
        } catch {
            log("\(error)")
            guard beginEnding() else { return }
            finish(code: 1)
            return
        }
        log("instance \(instanceID) started (pid \(getpid())), state in \(options.stateDirectory)")
        guard let serverURL = options.serverURL, let registrationToken = options.registrationToken else { return }

        let client = RunnerAPIClient(serverURL: serverURL, instanceID: instanceID, pollWait: options.pollWait,
                                     contact: contact, log: log, lifetime: lifetime, serverPin: options.serverPin)
        switch client.register(registrationToken: registrationToken) {
        case .stopped:
            return
        case .rejected(let status, let reason):
            // Final: the registration token is single-use per instance and the per-instance
            // token lives only in memory, so no retry or wait can bring this runner into
            // service. Waiting out the orphan timeout would only bill idle time.
            orphaned("the server refused the registration (\(status)): \(reason)")
            return
        case .registered:
            log("registered with \(serverURL)")
        }
        let executor = RunExecutor(client: client, stateDirectory: options.stateDirectory, log: log)
        lock.withLock { self.executor = executor }
        let heartbeat = HeartbeatLoop(client: client, executor: executor, interval: options.heartbeatInterval,
                                      lifetime: lifetime, log: log)
        spawn("dstack-runner heartbeat") { heartbeat.run() }
        if options.instanceID == nil || options.metadataURLGiven {
            let watcher = SpotNoticeWatcher(metadata: InstanceMetadata(baseURL: options.metadataURL), client: client,
                                            interval: options.noticeInterval, lifetime: lifetime, log: log)
            spawn("dstack-runner spot notices") { watcher.run() }
        }
        WorkLoop(client: client, executor: executor, lifetime: lifetime, log: log).run()
    }

    /// The instance ID from the flag, else from IMDSv2, retried (the metadata service
    /// can lag at early boot); the dead man's switch bounds the retrying.
    private func resolveInstanceID() -> String? {
        if let id = options.instanceID { return id }
        let metadata = InstanceMetadata(baseURL: options.metadataURL)
        var backoff = Backoff(base: 0.5, cap: 10)
        var complained = false
        while !lifetime.isStopped {
            do { return try metadata.instanceID() } catch {
                if !complained { log("cannot read the instance ID from the metadata service, retrying: \(error)") }
                complained = true
            }
            lifetime.sleep(backoff.nextDelay())
        }
        return nil
    }

    private func orphaned(_ reason: String) {
        guard beginEnding() else { return }
        switch options.orphanAction {
        case .exit:
            log("orphaned: \(reason); exiting")
            finish(code: 0)
        case .poweroff:
            log("orphaned: \(reason); powering off")
            stopWork()
            PowerOff.run(powerOffCommands, log: log)
            finish(code: 0)
        }
    }

    /// True for the first caller only: a signal and the orphan switch may race.
    private func beginEnding() -> Bool {
        lock.withLock {
            if ending { return false }
            ending = true
            return true
        }
    }

    private func stopWork() {
        lifetime.stop()
        lock.withLock { executor }?.killForShutdown()
    }

    private func finish(code: Int32) {
        stopWork()
        terminate(code)
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}
