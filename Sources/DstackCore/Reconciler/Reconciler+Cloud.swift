import Foundation

extension Reconciler {
    /// Launches journaled but never confirmed (the process died between the journal and
    /// the provider's answer) are sent again with the same idempotency token: the
    /// cloud returns what the first call created instead of launching twice. The batch
    /// gets a second registration token (only hashes are kept, so the first cannot be
    /// rendered again); runners holding either one may register.
    func resendUnsentLaunches(_ active: ActiveProvider, now: Date, report: inout Report) async throws {
        let unsent = try workspace.state().read { try $0.openBatches(vendor: active.vendor) }.filter { $0.status == .intent }
        for batch in unsent {
            let registration = SecureRandom.hex(32)
            try workspace.state().write { try $0.addRegistrationHash(token: batch.token, hash: TokenHash.sha256Hex(registration)) }
            await send(batchToken: batch.token, instanceType: batch.instanceType, count: batch.count,
                       registrationToken: registration, active: active, now: now, diskGB: batch.diskGB, report: &report)
        }
    }

    /// Journals `target`, has the cloud terminate it, then forgets it and its journal
    /// entry. Should the call fail, the entry stays for `resendJournaledTerminations`.
    func terminate(_ target: TerminationTarget, active: ActiveProvider, report: inout Report) async throws {
        try workspace.state().write { try $0.journalTermination(target, vendor: active.vendor, at: clock()) }
        report.providerCalls += 1
        try await active.provider.terminate(target)
        try workspace.state().write { try $0.forget(target, vendor: active.vendor) }
    }

    /// Terminations journaled that the cloud did not take (its call failed after the
    /// instances left the fleet) go again first thing, not once the sweep's grace is
    /// past. A failure again is reported and left for the next pass: planning goes on.
    func resendJournaledTerminations(_ active: ActiveProvider, report: inout Report) async throws {
        let pending = try workspace.state().read { try $0.journaledTerminations(vendor: active.vendor) }
        guard !pending.isEmpty else { return }
        do {
            try await terminate(pending, active: active, report: &report)
            report.terminated += pending.instanceIDs
        } catch {
            let message = (error as? ProviderError)?.userMessage ?? String(describing: error)
            report.errors.append("could not terminate \((pending.instanceIDs + pending.spotRequestIDs).joined(separator: ", ")) yet: \(message)")
        }
    }

    /// Makes state agree with the cloud's list: vanished instances lose their runs to a
    /// retry, launch batches that never came up are given up, and instances the cloud
    /// lists as ours that state does not know are swept once older than the grace period.
    func settleWithCloud(_ cloud: [ManagedInstance], active: ActiveProvider, now: Date, report: inout Report) async throws {
        let state = try workspace.state()
        let vendor = active.vendor
        let liveCloud = Dictionary(cloud.filter { $0.state.isLive && !$0.isUnfulfilledRequest }.map { ($0.id, $0) },
                                   uniquingKeysWith: { first, _ in first })
        let (fleet, batches) = try state.read { tx in (try tx.fleet(vendor: vendor), try tx.openBatches(vendor: vendor)) }

        // Registered instances the cloud no longer runs: their runs go back to pending.
        for instance in fleet where instance.registeredAt != nil && liveCloud[instance.id] == nil {
            try state.write { tx in
                try tx.removeInstance(instance.id)
                if let runID = instance.runID {
                    try interrupt(runID, tx: tx, why: "its instance \(instance.id) vanished", counts: true, report: &report)
                }
            }
        }

        // Runners gone silent on machines that still run (a crashed runner): the machine
        // goes, and so does the run, to be retried elsewhere.
        var toTerminate = TerminationTarget()
        for instance in fleet where instance.registeredAt != nil && liveCloud[instance.id] != nil {
            let lastHeard = instance.heartbeatAt ?? instance.registeredAt ?? now
            guard now.timeIntervalSince(lastHeard) > options.heartbeatTimeout else { continue }
            toTerminate.instanceIDs.append(instance.id)
            if let request = instance.spotRequestID { toTerminate.spotRequestIDs.append(request) }
            try state.write { tx in
                try tx.removeInstance(instance.id)
                if let runID = instance.runID {
                    try interrupt(runID, tx: tx, why: "the runner on \(instance.id) stopped answering", counts: true, report: &report)
                }
            }
        }

        // Batches that did not come up are given up: at the provisioning timeout, or as
        // soon as the cloud lists what they launched as gone (a runner that failed to
        // boot, a spot instance taken back) with none of it live. Not listed at all counts
        // as gone only past the sweep grace: a cloud's list may lag behind its launches.
        // Either way each run the batch was for has lost a provisioning attempt.
        var openRequests = Set<String>()
        var openTokens = Set<String>()
        let launchedFor = try state.read { try $0.runsLaunchedFor(tokens: batches.map(\.token)) }
        for batch in batches {
            let recorded = Set(fleet.filter { $0.launchToken == batch.token }.map(\.id))
            let belongs: (ManagedInstance) -> Bool = { batch.owns($0, recorded: recorded) }
            let anyAlive = cloud.contains { $0.state.isLive && belongs($0) }
            let listedGone = cloud.contains { !$0.state.isLive && belongs($0) }
            let age = now.timeIntervalSince(batch.createdAt)
            let why: String
            if batch.status == .sent, batch.provisioning > 0, !anyAlive, listedGone || age > options.sweepGrace {
                why = "its instances were gone before their runners registered"
            } else if batch.status == .sent, age > options.provisioningTimeout {
                why = "its runners did not register within \(DurationText.format(options.provisioningTimeout))"
            } else {
                openRequests.formUnion(batch.spotRequestIDs)
                openTokens.insert(batch.token)
                continue
            }
            // Journal first (the batch closed, the attempt counted), then call the cloud. A
            // batch the cloud took back while it booted is an interruption, not a failed
            // launch: its runs are launched again (this pass) without losing an attempt.
            let interruption = cloud.first { belongs($0) && $0.interruptionSignal != nil }
            try state.write { tx in
                try tx.closeBatch(token: batch.token)
                if let interruption, let signal = interruption.interruptionSignal {
                    try recordInterruptedLaunch(batch, runIDs: launchedFor[batch.token] ?? [], signal: signal,
                                                zone: interruption.availabilityZone, tx: tx, now: now)
                } else {
                    try recordFailedProvisioning(batch, runIDs: launchedFor[batch.token] ?? [], why: why, tx: tx, now: now,
                                                 report: &report)
                }
            }
            report.gaveUp[batch.token] = why
            toTerminate.spotRequestIDs += batch.spotRequestIDs
            let registered = Set(fleet.filter { $0.registeredAt != nil }.map(\.id))
            let unregistered = cloud.filter { belongs($0) && !$0.isUnfulfilledRequest && !registered.contains($0.id) }.map(\.id)
            toTerminate.instanceIDs += unregistered + recorded.subtracting(registered).subtracting(unregistered).sorted()
        }

        // Sweep: live in the cloud, ours, but neither registered nor still coming up.
        // Not while a launch is in flight elsewhere (a `dstack instances request` that has
        // called the cloud but not yet recorded what it got): its resources look unknown.
        let launchInFlight = batches.contains { $0.status == .intent && now.timeIntervalSince($0.createdAt) < options.sweepGrace }
        let registered = Set(fleet.filter { $0.registeredAt != nil }.map(\.id))
        let recordedForOpenBatch = Set(fleet.filter { $0.launchToken.map(openTokens.contains) ?? false }.map(\.id))
        for instance in cloud where instance.state.isLive && !launchInFlight {
            if registered.contains(instance.id) || recordedForOpenBatch.contains(instance.id) { continue }
            if toTerminate.instanceIDs.contains(instance.id) || toTerminate.spotRequestIDs.contains(instance.id) { continue }
            if cancelledRequests.contains(instance.id) { continue } // a held request this pass cancelled (Reconciler+Fulfillment)
            if let request = instance.spotRequestID, openRequests.contains(request) { continue }
            if instance.isUnfulfilledRequest, openRequests.contains(instance.id) { continue }
            let age = instance.launchTime.map { now.timeIntervalSince($0) } ?? .infinity
            guard age >= options.sweepGrace else { continue }
            if instance.isUnfulfilledRequest {
                toTerminate.spotRequestIDs.append(instance.id)
            } else {
                toTerminate.instanceIDs.append(instance.id)
                if let request = instance.spotRequestID { toTerminate.spotRequestIDs.append(request) }
            }
            report.swept.append(instance.id)
        }
        if !toTerminate.isEmpty {
            try await terminate(toTerminate, active: active, report: &report)
            report.terminated += toTerminate.instanceIDs.filter { !report.swept.contains($0) }
        }
    }

    /// A batch closed before the runners meant for these runs registered: each run still
    /// waiting has lost a provisioning attempt, and one out of attempts fails, saying
    /// what most likely went wrong and which server URL its instances were given.
    func recordFailedProvisioning(_ batch: OpenBatch, runIDs: [String], why: String, tx: StateTransaction, now: Date,
                                  report: inout Report) throws {
        let waiting = try runIDs.compactMap { try tx.run($0) }.filter { $0.status.isWaiting && !$0.stopRequested }
        try tx.markProvisioningFailed(token: batch.token, runIDs: waiting.map(\.id))
        for run in waiting {
            let failures = try tx.provisioningFailures(runID: run.id)
            let limit = max(1, options.maxProvisioningAttempts)
            if failures.count < limit {
                try tx.appendLog(runID: run.id, attempt: run.attempt, stream: .system, text: """
                    [dstack] launch attempt \(failures.count) of \(limit) gave up: the \(batch.instanceType) launch \(batch.token) \
                    closed because \(why); launching again\n
                    """, at: now)
                continue
            }
            let reason = Self.provisioningFailureReason(failures, timeout: options.provisioningTimeout)
            try tx.appendLog(runID: run.id, attempt: run.attempt, stream: .system, text: "[dstack] \(reason)\n", at: now)
            try tx.setRunStatus(run.id, .failed, reason: reason, at: now)
            try tx.setRunStage(run.id, nil)
            report.failedRuns[run.id] = reason
        }
    }

    /// Why a run failed to get a runner: how many instances of which types were tried, the
    /// URL they were told to register with, and what to check.
    static func provisioningFailureReason(_ failures: [ProvisioningFailure], timeout: TimeInterval) -> String {
        func unique(_ values: [String]) -> [String] {
            var seen = Set<String>()
            return values.filter { seen.insert($0).inserted }
        }
        let types = unique(failures.map(\.instanceType)).joined(separator: " and ")
        let urls = unique(failures.compactMap(\.serverURL))
        let server = urls.isEmpty ? "the server" : urls.joined(separator: " or ")
        let within = "within \(DurationText.format(timeout))"
        let what = failures.count == 1
            ? "1 instance of \(types) was launched for this run and its runner did not register with \(server) \(within)"
            : "\(failures.count) instances of \(types) were launched for this run and none of their runners registered with \(server) \(within)"
        let check = urls.count > 1 ? "instances can reach those URLs" : "instances can reach that URL"
        return "\(what); check that \(check) (dstack server --advertise-url) and that the runner can start there "
            + "(see the instance's console output)"
    }

    /// A run that lost its instance: retried while it has retries left, else ended.
    func interrupt(_ runID: String, tx: StateTransaction, why: String, counts: Bool, report: inout Report) throws {
        if try tx.requeueRun(runID, why: why, counts: counts, maxRetries: options.maxRetries, at: clock()) == .retrying {
            report.retried.append(runID)
        }
    }

    /// Waiting runs the user stopped end here; running ones end when their runner
    /// hears of it (the stop flag in its next heartbeat or log reply).
    func stopRequestedRuns(now: Date) throws {
        let state = try workspace.state()
        // Looked for in a read: most passes find none and take no write lock.
        guard try !state.read({ try $0.waitingRunSummaries(stopRequestedOnly: true) }).isEmpty else { return }
        try state.write { tx in
            for run in try tx.waitingRunSummaries(stopRequestedOnly: true) {
                try tx.setRunStatus(run.id, .stopped, reason: "stopped by the user before it started", at: now)
            }
        }
    }
}
