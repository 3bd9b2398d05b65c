import Foundation

extension Reconciler {
    /// Before the cloud's list is settled against state: records each registered
    /// instance's zone, and the interruptions the list itself shows (a spot request
    /// status, an instance state reason), live or already gone. The first signal wins,
    /// so an instance whose runner reported a notice first keeps that signal.
    func noteSpotSignals(_ cloud: [ManagedInstance], active: ActiveProvider, now: Date, report: inout Report) throws {
        let fleet = try workspace.state().read { try $0.fleet(vendor: active.vendor) }
        let listed = Dictionary(cloud.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var outcomes: [SpotInterruptions.Outcome] = []
        // Most passes have no zone to note and no signal: they take no write lock.
        let anything = fleet.contains { instance in
            guard instance.registeredAt != nil, let item = listed[instance.id] else { return false }
            return (item.availabilityZone != nil && item.availabilityZone != instance.zone)
                || (instance.interruption == nil && item.interruptionSignal != nil)
        }
        guard anything else { return }
        try workspace.state().write { tx in
            for instance in fleet where instance.registeredAt != nil {
                guard let item = listed[instance.id] else { continue }
                if let zone = item.availabilityZone, zone != instance.zone { try tx.setInstanceZone(instance.id, zone: zone) }
                guard instance.interruption == nil, let signal = item.interruptionSignal else { continue }
                if let outcome = try SpotInterruptions.record(instanceID: instance.id, signal: signal, terminateAt: nil, tx: tx,
                                                              now: now, maxRetries: options.maxRetries) {
                    outcomes.append(outcome)
                }
            }
        }
        for outcome in outcomes {
            report.interrupted[outcome.instance.id] = outcome.instance.interruption
                ?? (listed[outcome.instance.id]?.interruptionSignal ?? "interrupted")
            if let runID = outcome.requeuedRunID { report.retried.append(runID) }
        }
    }

    /// After settling: an interrupted instance the cloud still runs past its termination
    /// time (plus a grace) is terminated, and so is an instance a rebalance policy drains
    /// once it is idle. One terminate call for all of them.
    func finishInterruptedAndDrained(_ cloud: [ManagedInstance], active: ActiveProvider, now: Date, report: inout Report) async throws {
        let state = try workspace.state()
        let (fleet, rules, enabled) = try state.read { tx in
            (try tx.fleet(vendor: active.vendor), Set(try tx.rules().map(\.instanceType)), try tx.isEnabled())
        }
        let live = Set(cloud.filter { $0.state.isLive && !$0.isUnfulfilledRequest }.map(\.id))
        var going: [(FleetInstance, String)] = []
        for instance in fleet where live.contains(instance.id) && (instance.interruptedAt != nil || instance.draining != nil) {
            // The planner does not see these: a change that takes every instance of the type
            // away (disable, clear, a removed rule) takes them here.
            if !enabled || !rules.contains(instance.instanceType) {
                going.append((instance, !enabled ? Plan.Termination.Reason.disabled.rawValue : Plan.Termination.Reason.notAllowed.rawValue))
            } else if let interruptedAt = instance.interruptedAt {
                let deadline = (instance.terminateAt ?? interruptedAt.addingTimeInterval(120))
                    .addingTimeInterval(SpotInterruptions.terminationGrace)
                if now >= deadline { going.append((instance, "the cloud had not taken it back after its interruption")) }
            } else if let policy = instance.draining, instance.phase == .idle {
                going.append((instance, "drained after a rebalance recommendation (policy \(policy))"))
            }
        }
        guard !going.isEmpty else { return }
        var target = TerminationTarget()
        try state.write { tx in
            for (instance, why) in going {
                if let runID = try InstanceShutdown.journal(instanceID: instance.id, why: why, tx: tx, at: now) {
                    report.retried.append(runID)
                    report.requeued[instance.id] = runID
                }
                target.instanceIDs.append(instance.id)
                if let request = instance.spotRequestID { target.spotRequestIDs.append(request) }
            }
        }
        try await terminate(target, active: active, report: &report)
        report.terminated += target.instanceIDs
    }

    /// Whether a registered instance takes part in planning, and as what: an interrupted
    /// one does not (it gets no work and no longer counts against the max), nor does one
    /// a `replace` policy drains (its replacement may start now); one a `drain` policy
    /// drains counts against the max but takes no new run.
    static func plannerPhase(of instance: FleetInstance, now: Date) -> PlannerInstance.Phase? {
        if instance.phase == .interrupted || instance.interruption != nil { return nil }
        switch instance.draining {
        case RebalancePolicy.replace.rawValue: return nil
        case RebalancePolicy.drain.rawValue: return .busy(runID: instance.runID ?? "draining:\(instance.id)")
        default: break
        }
        return instance.runID.map { .busy(runID: $0) } ?? .idle(since: instance.idleSince ?? instance.registeredAt ?? now)
    }
}


extension Reconciler {
    /// A run whose `retry:` policy leaves out `no-capacity` (or whose duration has
    /// passed) fails the first time its launch finds no capacity, instead of waiting.
    /// Returns whether it failed.
    func failWithoutCapacity(_ runID: String, instanceType: String, failure: String, tx: StateTransaction, now: Date,
                             report: inout Report) throws -> Bool {
        guard let run = try tx.run(runID), run.status.isWaiting, let policy = run.retryPolicy,
              !policy.allows(.noCapacity, submittedAt: run.submittedAt, now: now) else { return false }
        let rule = policy.retries(.noCapacity) ? "its retry duration has passed" : "its retry policy does not include no-capacity"
        let reason = "no spot capacity for \(instanceType) (\(failure)); not retried: \(rule)"
        try tx.appendLog(runID: runID, attempt: run.attempt, stream: .system, text: "[dstack] \(reason)\n", at: now)
        try tx.setRunStatus(runID, .failed, reason: reason, at: now)
        try tx.setRunStage(runID, nil)
        report.failedRuns[runID] = reason
        return true
    }
}

extension Reconciler {
    /// A launch the cloud took back before its runners registered: its pool is cooled
    /// and each run it was for says so in its log, and is launched again without losing
    /// a provisioning attempt.
    func recordInterruptedLaunch(_ batch: OpenBatch, runIDs: [String], signal: String, zone: String?, tx: StateTransaction,
                                 now: Date) throws {
        try tx.coolOffering(OfferingCooldown(instanceType: batch.instanceType, zone: zone ?? "",
                                             until: now.addingTimeInterval(SpotInterruptions.poolCooldown),
                                             reason: "\(signal) on launch \(batch.token)", hard: false))
        for run in try runIDs.compactMap({ try tx.run($0) }) where run.status.isWaiting && !run.stopRequested {
            try tx.appendLog(runID: run.id, attempt: run.attempt, stream: .system, text: """
                [dstack] the \(batch.instanceType) launch \(batch.token) was taken back before its runner registered \
                (\(signal)); launching again\n
                """, at: now)
            try tx.setRunInterruptedBy(run.id, signal: signal)
        }
    }
}
