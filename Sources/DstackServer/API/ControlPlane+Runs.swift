import DstackAPI
import DstackCore
import Foundation

/// Who is calling: the user the bearer token belongs to.
struct Caller: Sendable {
    var name: String
    var isAdmin: Bool
}

extension ControlPlane {
    /// Queues a run for `caller`. Everything that can refuse it happens before it is stored.
    func submit(_ submission: RunSubmission, by caller: Caller) async throws -> RunInfo {
        guard !submission.commands.isEmpty, submission.commands.allSatisfy({ !$0.isEmpty }) else {
            throw APIRequestError.badRequest("a run needs at least one non-empty command")
        }
        for key in submission.environment.keys where !EnvironmentEntry.isValidName(key) {
            throw APIRequestError.badRequest("environment variable name '\(key)' is not valid (letters, digits and _, not starting with a digit)")
        }
        let requirements = try Self.requirements(submission.requirements)
        let retry = try Self.retryPolicy(submission.retry)
        if let sha = submission.codeSha256, !ShippedCode.isValidHash(sha) {
            throw APIRequestError.badRequest("code_sha256 is not a SHA-256 in lower-case hex")
        }
        if submission.codeSha256 == nil, submission.codeSize != nil {
            throw APIRequestError.badRequest("code_size was given without code_sha256")
        }
        if !submission.wait, let reason = try await reasonNothingFits(requirements) {
            throw APIRequestError.conflict("\(reason); the run was not submitted (dstack run --wait queues it until a rule allows it)")
        }
        let (artifactPaths, deps) = try await artifactsAndDeps(submission, by: caller)
        // Checked last, so that a run refused for any other reason costs no upload: the
        // client uploads the archive only when told it is missing, then submits again.
        var code: ShippedCode? = nil
        if let sha = submission.codeSha256 {
            guard let path = CodeStore(home: workspace.home).path(for: sha),
                  let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) else {
                throw APIRequestError.codeMissing("no code archive \(sha) is stored; PUT it to \(APIPaths.codeArchive(sha)), then submit again")
            }
            code = ShippedCode(sha256: sha, size: size)
        }
        let record = try await BlockingWork.run { [workspace, code] in
            let state = try workspace.state()
            // Eight hex digits read well in `ps`, but collide once runs number in the tens
            // of thousands (about 1% at 10,000): a taken ID is drawn again rather than
            // failing the submission.
            func insert(_ tx: StateTransaction) throws -> RunRecord? {
                try tx.insertRun(id: "run-\(SecureRandom.hex(4))", workflow: submission.workflow, commands: submission.commands,
                                 requirements: requirements, environment: submission.environment, code: code,
                                 submittedBy: caller.name, retryPolicy: retry)
            }
            // New rows under a fresh ID, so on Postgres neither waits on the write lock
            // that the leader's passes and other writers take. A run alone is one
            // statement (one round trip); one with artifacts or deps is stored with
            // their declaration in one transaction, so no pass ever sees it without them.
            for _ in 0..<8 {
                if artifactPaths.isEmpty && deps.isEmpty {
                    if let record = try state.statement(writing: true, insert) { return (record, nil as RunInfo?) }
                    continue
                }
                let stored: (RunRecord, RunInfo)? = try state.insert { tx in
                    guard let record = try insert(tx) else { return nil }
                    try tx.setRunArtifacts(runID: record.id, paths: artifactPaths, deps: deps)
                    return (record, try Self.infoWithArtifacts([record], tx: tx, now: Date())[0])
                }
                if let (record, info) = stored { return (record, info) }
            }
            throw APIRequestError.conflict("no free run ID was found in 8 draws; submit again")
        }
        loop.wake()
        // A run just stored has no usage (so no cost) and, without artifacts, no
        // artifact summary: its info is the row itself.
        return record.1 ?? Self.info(record.0)
    }

    /// A submission's `retry`, checked: known events, a duration above 0.
    static func retryPolicy(_ payload: RetryPayload?) throws -> RunRetryPolicy? {
        guard let payload else { return nil }
        var events: [RunRetryPolicy.Event] = []
        for word in payload.onEvents {
            guard let event = RunRetryPolicy.Event(rawValue: word) else {
                throw APIRequestError.badRequest("retry.on_events takes interruption, no-capacity and error, not '\(word)'")
            }
            if !events.contains(event) { events.append(event) }
        }
        if let duration = payload.duration, duration <= 0 {
            throw APIRequestError.badRequest("retry.duration must be a number of seconds above 0, got \(duration)")
        }
        return RunRetryPolicy(onEvents: events, duration: payload.duration.map(TimeInterval.init))
    }

    /// The core's fit check, with the allowed types described from the offerings cache
    /// (as `allow` validated them) rather than by the cloud on every submission. The
    /// rules and the enabled flag are one statement, read off the cooperative threads;
    /// the configuration and the cloud are asked only when a rule could take the run.
    func reasonNothingFits(_ requirements: ResourceRequirements) async throws -> String? {
        let (rules, enabled) = try await BlockingWork.run { [workspace] in
            try workspace.state().statement { try $0.rulesAndEnabled() }
        }
        let limits = Dictionary(rules.map { ($0.instanceType, $0.max) }, uniquingKeysWith: { _, last in last })
        var facts: [String: InstanceTypeFacts] = [:]
        // A type that cannot be described now (no provider configured, the cloud not
        // answering) counts as possibly fitting.
        if enabled && requirements.instanceType == nil && limits.contains(where: { $0.value > 0 }),
           let active = try? workspace.activeProvider() {
            for (type, max) in limits where max > 0 {
                if let known = try? await offerings.facts(vendor: active.vendor, instanceType: type, provider: active.provider) {
                    facts[type] = known
                }
            }
        }
        return SubmissionFit.reason(for: requirements, rules: limits, enabled: enabled, facts: facts)
    }

    static func requirements(_ payload: RequirementsPayload) throws -> ResourceRequirements {
        for (name, value) in [("cpu", payload.cpu), ("memory_mib", payload.memoryMib), ("gpu", payload.gpu), ("disk_gb", payload.diskGb)] {
            if let value, value < (name == "gpu" ? 0 : 1) {
                throw APIRequestError.badRequest("requirements.\(name) must be \(name == "gpu" ? "0" : "1") or more, got \(value)")
            }
        }
        if payload.instanceType != nil, payload.cpu != nil || payload.memoryMib != nil || payload.gpu != nil {
            throw APIRequestError.badRequest("give requirements.instance_type or cpu/memory_mib/gpu, not both")
        }
        return ResourceRequirements(instanceType: payload.instanceType, cpus: payload.cpu, memoryMiB: payload.memoryMib,
                                    gpus: payload.gpu, diskGB: payload.diskGb)
    }

    /// The caller's runs (every run for an admin), newest first.
    func runs(all: Bool, limit: Int? = nil, by caller: Caller) async throws -> [RunInfo] {
        // One read transaction for the page, its artifacts and its costs: on Postgres each
        // transaction is round trips, and `ps` is the API's most frequent call.
        try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in
                let records = try tx.runs(limit: limit ?? (all ? nil : 20), submittedBy: caller.isAdmin ? nil : caller.name)
                return try Self.infoWithArtifacts(records, tx: tx, now: Date())
            }
        }
    }

    /// A run by ID or unique prefix, if the caller may see it. Another user's run is a
    /// 403, so that a user learns it is not theirs rather than that it does not exist.
    func run(_ idOrPrefix: String, by caller: Caller) async throws -> RunRecord {
        let record = try await BlockingWork.run { [workspace] in try workspace.state().read { try $0.findRun(idOrPrefix) } }
        guard let record else { throw APIRequestError.notFound("no run '\(idOrPrefix)'") }
        guard caller.isAdmin || record.submittedBy == caller.name else {
            throw APIRequestError.forbidden("run \(record.id) belongs to another user; only its owner or an admin may see it")
        }
        return record
    }

    /// Log lines after `after`, waiting up to `wait` seconds for one when there are none
    /// and the run has not ended.
    /// The longest a logs call waits for a line, in seconds (the API refuses more).
    static let longestLogWait = 30

    func logs(_ idOrPrefix: String, after: Int, wait: TimeInterval, by caller: Caller) async throws -> LogPage {
        let id = try await run(idOrPrefix, by: caller).id
        let deadline = Date().addingTimeInterval(min(max(wait, 0), TimeInterval(Self.longestLogWait)))
        while true {
            let (record, entries) = try await BlockingWork.run { [workspace] in
                try workspace.state().read { tx in (try tx.run(id), try tx.logs(runID: id, after: after)) }
            }
            guard let record else { throw APIRequestError.notFound("no run '\(id)'") }
            if !entries.isEmpty || record.status.isFinished || Date() >= deadline {
                return LogPage(run: Self.info(record), entries: entries.map {
                    LogLine(seq: $0.seq, attempt: $0.attempt, stream: $0.stream.rawValue, text: $0.text)
                })
            }
            // Woken by new output or a status change; the timeout bounds what nothing announces.
            _ = await signal.wait(Self.runKey(id), timeout: 0.25)
        }
    }

    static func runKey(_ id: String) -> String { "run:" + id }

    func stop(_ idOrPrefix: String, by caller: Caller) async throws -> StopReply {
        let record = try await run(idOrPrefix, by: caller)
        if record.status.isFinished { return StopReply(run: Self.info(record), alreadyFinished: true) }
        let updated = try await BlockingWork.run { [workspace] in
            try workspace.state().write { tx in
                try tx.requestStop(record.id)
                return try tx.run(record.id)
            }
        }
        loop.wake()
        return StopReply(run: Self.info(updated ?? record), alreadyFinished: false)
    }

    static func info(_ run: RunRecord) -> RunInfo {
        RunInfo(id: run.id, workflow: run.workflow, user: run.submittedBy, status: run.status.rawValue, reason: run.reason,
                stage: run.stage, instanceId: run.instanceID, attempt: run.attempt, exitCode: run.exitCode,
                submittedAt: run.submittedAt, finishedAt: run.finishedAt, interruptions: run.interruptions,
                interruptedBy: run.interruptedBy)
    }

    /// Stores an uploaded code archive under its SHA-256, after checking the bytes hash to it.
    func storeCode(sha256: String, bytes: [UInt8]) throws {
        do {
            try CodeStore(home: workspace.home).store(archive: bytes, sha256: sha256)
        } catch let error as CodeShippingError {
            throw APIRequestError.badRequest(error.description)
        }
    }
}
