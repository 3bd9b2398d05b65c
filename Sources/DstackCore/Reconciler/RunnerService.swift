import Foundation

/// The server's side of the runner API, without HTTP: registration, the per-instance
/// token check, assignments, logs, exits and heartbeats. The HTTP layer maps each
/// `RunnerServiceError` to its status code.
public final class RunnerService: @unchecked Sendable {
    public let workspace: Workspace
    public let signal: WakeSignal
    /// How long after a launch an instance the cloud does not list yet gets "try again"
    /// rather than "forbidden".
    public var attributionGrace: TimeInterval = 120
    /// How long a list of the cloud serves further registrations.
    public var listingReuse: TimeInterval = 5
    private let lock = NSLock()
    private var recentListing: (at: Date, instances: [ManagedInstance])?
    /// Makes the reconcile loop run soon (a runner registered, a run finished).
    public var wakeReconciler: @Sendable () -> Void
    /// One line per event worth a line in the server's log (a runner registered, a run
    /// ended), naming the instance and run it is about.
    public var onEvent: (@Sendable (String) -> Void)?
    /// A runner registered: its instance came up for its launch (the timeline's fulfilment).
    public var onRegistered: (@Sendable (_ instanceID: String, _ instanceType: String, _ launchToken: String) -> Void)?
    /// Called when a runner's notice marks its instance interrupted (the first signal
    /// for it), with the signal's words: the timeline and the interruption counter.
    public var onInterrupted: (@Sendable (_ instanceID: String, _ signal: String) -> Void)?
    /// Set once the server shuts down: assignment polls answer at once instead of waiting.
    private var stopping = false
    /// A poll counts as a sign of life, but writing it on every poll would put one write
    /// per poll in the writer's queue, ahead of the writes that start runs. A poll writes
    /// it only when the last sign of life written for that instance is older than this,
    /// which the server keeps well under the heartbeat timeout.
    public var pollHeartbeatInterval: TimeInterval = 5
    /// When this server last wrote each instance's sign of life (by `lock`).
    private var heartbeatWritten: [String: Date] = [:]
    /// The server's `--max-retries`, for runs an interruption notice sends back to the queue.
    public var maxRetries: Int = 2

    public init(workspace: Workspace, signal: WakeSignal, wakeReconciler: @escaping @Sendable () -> Void) {
        self.workspace = workspace
        self.signal = signal
        self.wakeReconciler = wakeReconciler
    }

    /// Accepts a runner whose instance the provider's list attributes to the batch its
    /// registration token belongs to. Returns its per-instance token.
    ///
    /// Registering again is idempotent: a runner whose reply was lost on the way retries,
    /// and with its own batch's registration token it gets a fresh token (the first one
    /// stops working) instead of a refusal that would leave its machine billing unused.
    /// Another batch's token for a registered instance is a conflict.
    public func register(_ request: RunnerAPI.RegisterRequest) async throws -> RunnerAPI.RegisterReply {
        let state = try workspace.state()
        let registrationHash = TokenHash.sha256Hex(request.registrationToken)
        if let again = try reregister(request, registrationHash: registrationHash) { return again }
        guard let (batch, vendor) = try state.read({ try $0.batch(registrationHash: registrationHash) }) else {
            throw RunnerServiceError.unauthorized("unknown or expired registration token")
        }
        let active = try workspace.activeProvider()
        guard active.vendor == vendor else { throw RunnerServiceError.forbidden("the batch belongs to another provider") }
        let listed = try await listing(containing: request.instanceID, active: active)
        let recorded = try state.read { try $0.fleetInstance(request.instanceID) }
        guard let instance = listed.first(where: { $0.id == request.instanceID && $0.state.isLive && !$0.isUnfulfilledRequest }),
              (instance.spotRequestID.map(batch.spotRequestIDs.contains) ?? false) || recorded?.launchToken == batch.token else {
            // A launch still being journaled, or a cloud whose list lags behind its launches,
            // may not show the instance yet: the runner is told to try again shortly.
            if batch.status == .intent || Date().timeIntervalSince(batch.createdAt) < attributionGrace {
                throw RunnerServiceError.notYet("instance \(request.instanceID) is not listed for this launch yet; try again shortly")
            }
            throw RunnerServiceError.forbidden("instance \(request.instanceID) is not one the cloud lists for this launch")
        }
        let token = SecureRandom.hex(32)
        try state.write { tx in
            try tx.registerInstance(id: instance.id, vendor: vendor, instanceType: batch.instanceType,
                                    spotRequestID: instance.spotRequestID, batchToken: batch.token,
                                    tokenHash: TokenHash.sha256Hex(token))
            if let zone = instance.availabilityZone { try tx.setInstanceZone(instance.id, zone: zone) }
        }
        onEvent?("runner on \(instance.id) registered (\(batch.instanceType), launch \(batch.token))")
        onRegistered?(instance.id, batch.instanceType, batch.token)
        wakeReconciler()
        return RunnerAPI.RegisterReply(token: token, instanceID: instance.id)
    }

    /// A registered instance registering again with its batch's token: a new token. nil
    /// when the instance has not registered yet.
    private func reregister(_ request: RunnerAPI.RegisterRequest, registrationHash: String) throws -> RunnerAPI.RegisterReply? {
        let token = SecureRandom.hex(32)
        let reissued: Bool = try workspace.state().write { tx in
            guard let recorded = try tx.fleetInstance(request.instanceID), recorded.tokenHash != nil else { return false }
            guard let launch = recorded.launchToken, try tx.batch(launch, hasRegistrationHash: registrationHash) else {
                throw RunnerServiceError.conflict("instance \(request.instanceID) has registered already, with another launch's token")
            }
            try tx.reissueRunnerToken(instanceID: request.instanceID, tokenHash: TokenHash.sha256Hex(token))
            return true
        }
        guard reissued else { return nil }
        onEvent?("runner on \(request.instanceID) registered again (its first reply was lost, or it restarted); its old token is void")
        wakeReconciler()
        return RunnerAPI.RegisterReply(token: token, instanceID: request.instanceID)
    }

    /// The cloud's list, shared by registrations that arrive together: a batch of runners
    /// booting at once costs one list call, not one each. A runner not in a recent list
    /// gets a fresh one.
    private func listing(containing instanceID: String, active: ActiveProvider) async throws -> [ManagedInstance] {
        if let cached = lock.withLock({ recentListing }), Date().timeIntervalSince(cached.at) < listingReuse,
           cached.instances.contains(where: { $0.id == instanceID }) {
            return cached.instances
        }
        let known = try workspace.state().read { try $0.knownResources(vendor: active.vendor) }
        let instances = try await active.provider.list(known: known)
        lock.withLock { recentListing = (Date(), instances) }
        return instances
    }

    /// Lets an instance download the runner binary: the bearer must be the registration
    /// token of a launch batch that has not been given up. 401 otherwise.
    public func authorizeRunnerDownload(authorization: String?) throws {
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.count > 7 else {
            throw RunnerServiceError.unauthorized("the launch's registration token is required as a bearer token")
        }
        let hash = TokenHash.sha256Hex(String(authorization.dropFirst(7)))
        guard try workspace.state().read({ try $0.batch(registrationHash: hash) }) != nil else {
            throw RunnerServiceError.unauthorized("unknown or expired registration token")
        }
    }

    /// 401 without a token or with one no instance has; 403 with another instance's.
    public func authenticate(instanceID: String, authorization: String?) throws {
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.count > 7 else {
            throw RunnerServiceError.unauthorized("a bearer token is required")
        }
        let hash = TokenHash.sha256Hex(String(authorization.dropFirst(7)))
        let owner = try workspace.state().read { try $0.instanceID(tokenHash: hash) }
        guard let owner else { throw RunnerServiceError.unauthorized("the token is not valid") }
        guard owner == instanceID else { throw RunnerServiceError.forbidden("the token belongs to another instance") }
    }

    /// The run assigned to the instance, if any; waits up to `wait` seconds for one.
    public func assignment(instanceID: String, wait: TimeInterval) async throws -> RunnerAPI.Assignment? {
        if pollHeartbeatDue(instanceID) { // a poll is a sign of life
            try workspace.state().write { try $0.heartbeat(instanceID: instanceID) }
            noteHeartbeatWritten(instanceID)
        }
        let deadline = Date().addingTimeInterval(wait)
        while true {
            if let assignment = try currentAssignment(instanceID) { return assignment }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, !lock.withLock({ stopping }) else { return nil }
            _ = await signal.wait(instanceID, timeout: remaining)
        }
    }

    /// Ends every assignment poll now and makes later ones answer at once ("no work"),
    /// so a server shutting down is not held up by runners' long polls.
    public func stopWaiting() {
        lock.withLock { stopping = true }
        signal.close(except: [ReconcileLoop.wakeKey])
    }

    /// The run for the instance, if any; handing it to the runner is the run's `running` stage.
    private func currentAssignment(_ instanceID: String) throws -> RunnerAPI.Assignment? {
        let state = try workspace.state()
        // A read first: most polls find no work, and need not queue for the write lock.
        let found: (RunRecord, RunArtifactsRecord?)? = try state.read { tx in
            guard let runID = try tx.fleetInstance(instanceID)?.runID, let run = try tx.run(runID),
                  run.status == .running, run.instanceID == instanceID, !run.stopRequested else { return nil }
            return (run, try tx.runArtifacts(runID))
        }
        guard let found else { return nil }
        let (run, artifacts) = found
        if run.stage != RunStage.running {
            try state.write { tx in
                if try tx.run(run.id)?.attempt == run.attempt { try tx.setRunStage(run.id, RunStage.running) }
            }
        }
        return RunnerAPI.Assignment(runID: run.id, attempt: run.attempt, commands: run.commands, env: run.environment,
                                    code: run.code.map { RunnerAPI.Assignment.Code(sha256: $0.sha256, size: $0.size) },
                                    artifacts: artifacts?.paths ?? [], deps: artifacts?.deps ?? [])
    }

    /// The file holding a run's code archive, for the instance the run is assigned to
    /// now: 403 for any other instance (a runner sees only the code of its own run),
    /// 404 when the run has no code or the store lost it.
    public func codeArchive(instanceID: String, runID: String) throws -> String {
        let run = try workspace.state().read { try $0.run(runID) }
        guard let run else { throw RunnerServiceError.notFound("no run \(runID)") }
        guard run.instanceID == instanceID, run.status == .running else {
            throw RunnerServiceError.forbidden("run \(runID) is not assigned to instance \(instanceID)")
        }
        guard let code = run.code else { throw RunnerServiceError.notFound("run \(runID) has no code") }
        guard let path = CodeStore(home: workspace.home).path(for: code.sha256), access(path, R_OK) == 0 else {
            throw RunnerServiceError.notFound("the code archive \(code.sha256) of run \(runID) is missing from the code store")
        }
        return path
    }

    public func appendLog(instanceID: String, runID: String, chunk: RunnerAPI.LogChunk) throws -> RunnerAPI.RunControl {
        let control: RunnerAPI.RunControl? = try workspace.state().write { tx in
            guard let run = try tx.run(runID) else { throw RunnerServiceError.notFound("no run \(runID)") }
            guard run.instanceID == instanceID, run.attempt == chunk.attempt, run.status == .running else {
                return nil // the run was taken from this instance
            }
            try tx.appendLog(runID: runID, attempt: chunk.attempt, stream: chunk.stream == .stdout ? .stdout : .stderr, text: chunk.text)
            try tx.heartbeat(instanceID: instanceID)
            return RunnerAPI.RunControl(stop: run.stopRequested)
        }
        guard let control else { return RunnerAPI.RunControl(stop: true) }
        noteHeartbeatWritten(instanceID)
        return control
    }

    private func pollHeartbeatDue(_ instanceID: String, now: Date = Date()) -> Bool {
        lock.withLock { heartbeatWritten[instanceID].map { now.timeIntervalSince($0) >= pollHeartbeatInterval } ?? true }
    }

    private func noteHeartbeatWritten(_ instanceID: String, at now: Date = Date()) {
        lock.withLock {
            // Forget instances gone long ago, so the map stays the size of the live fleet.
            if heartbeatWritten.count > 4096 {
                heartbeatWritten = heartbeatWritten.filter { now.timeIntervalSince($0.value) < pollHeartbeatInterval }
            }
            heartbeatWritten[instanceID] = now
        }
    }

    public func finish(instanceID: String, runID: String, exit: RunnerAPI.RunExit) throws {
        try workspace.state().write { tx in
            guard let run = try tx.run(runID) else { throw RunnerServiceError.notFound("no run \(runID)") }
            guard run.instanceID == instanceID, run.attempt == exit.attempt, run.status == .running else { return }
            let status: RunStatus = run.stopRequested ? .stopped : (exit.exitCode == 0 ? .done : .failed)
            try tx.appendLog(runID: runID, attempt: exit.attempt, stream: .system,
                             text: "[dstack] attempt \(exit.attempt) exited with code \(exit.exitCode)\n")
            if status == .failed, try tx.retryFailedRun(runID, exitCode: exit.exitCode, maxRetries: maxRetries) {
                try tx.release(instanceID: instanceID)
                onEvent?("run \(runID) attempt \(exit.attempt) on \(instanceID) failed (exit code \(exit.exitCode)); retrying, as its policy says")
                return
            }
            try tx.setRunStatus(runID, status, reason: status == .stopped ? "stopped by the user" : nil,
                                instanceID: instanceID, exitCode: exit.exitCode)
            try tx.release(instanceID: instanceID)
            try tx.setRunStage(runID, nil)
            onEvent?("run \(runID) attempt \(exit.attempt) on \(instanceID) ended \(status.rawValue) (exit code \(exit.exitCode))")
        }
        wakeReconciler()
    }

    public func heartbeat(instanceID: String, beat: RunnerAPI.Heartbeat) throws -> RunnerAPI.RunControl {
        let control: RunnerAPI.RunControl = try workspace.state().write { tx in
            try tx.heartbeat(instanceID: instanceID)
            guard let runID = beat.runID, let run = try tx.run(runID) else { return RunnerAPI.RunControl(stop: false) }
            let taken = run.instanceID != instanceID || run.status != .running || (beat.attempt.map { $0 != run.attempt } ?? false)
            return RunnerAPI.RunControl(stop: run.stopRequested || taken)
        }
        noteHeartbeatWritten(instanceID)
        return control
    }
}

public enum RunnerServiceError: Error, Equatable, CustomStringConvertible {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case notYet(String)

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .notYet: return 503
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m), .conflict(let m), .notYet(let m):
            return m
        }
    }
}
