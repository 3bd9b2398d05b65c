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
                       registrationToken: registration, active: active, now: now, report: &report)
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

        // Batches that did not come up in time are given up.
        var openRequests = Set<String>()
        var openTokens = Set<String>()
        for batch in batches {
            let recorded = Set(fleet.filter { $0.launchToken == batch.token }.map(\.id))
            let anyAlive = cloud.contains { instance in
                instance.state.isLive && (recorded.contains(instance.id)
                    || (instance.spotRequestID.map(batch.spotRequestIDs.contains) ?? false)
                    || (instance.isUnfulfilledRequest && batch.spotRequestIDs.contains(instance.id)))
            }
            if batch.status == .sent, batch.provisioning > 0, !anyAlive, now.timeIntervalSince(batch.createdAt) > options.sweepGrace {
                // Everything the batch launched is gone before its runners registered
                // (a runner that failed to boot): stop waiting for them.
                try state.write { try $0.closeBatch(token: batch.token) }
                continue
            }
            if batch.status == .sent, now.timeIntervalSince(batch.createdAt) > options.provisioningTimeout {
                try state.write { try $0.closeBatch(token: batch.token) }
                toTerminate.spotRequestIDs += batch.spotRequestIDs
                let unregistered = cloud.filter { instance in
                    instance.spotRequestID.map(batch.spotRequestIDs.contains) ?? false
                        && !fleet.contains { $0.id == instance.id && $0.registeredAt != nil }
                }
                toTerminate.instanceIDs += unregistered.filter { !$0.isUnfulfilledRequest }.map(\.id)
            } else {
                openRequests.formUnion(batch.spotRequestIDs)
                openTokens.insert(batch.token)
            }
        }

        // Sweep: live in the cloud, ours, but neither registered nor still coming up.
        // Not while a launch is in flight elsewhere (a `dstack instances request` that has
        // called the cloud but not yet recorded what it got): its resources look unknown.
        let launchInFlight = batches.contains { $0.status == .intent && now.timeIntervalSince($0.createdAt) < options.sweepGrace }
        let registered = Set(fleet.filter { $0.registeredAt != nil }.map(\.id))
        let recordedForOpenBatch = Set(fleet.filter { $0.launchToken.map(openTokens.contains) ?? false }.map(\.id))
        for instance in cloud where instance.state.isLive && !launchInFlight {
            if registered.contains(instance.id) || recordedForOpenBatch.contains(instance.id) { continue }
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
            report.providerCalls += 1
            try await active.provider.terminate(toTerminate)
            try state.write { try $0.forget(toTerminate, vendor: vendor) }
        }
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
        try workspace.state().write { tx in
            for run in try tx.waitingRuns() where run.stopRequested {
                try tx.setRunStatus(run.id, .stopped, reason: "stopped by the user before it started", at: now)
            }
        }
    }
}
