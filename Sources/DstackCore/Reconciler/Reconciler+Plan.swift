import Foundation

extension Reconciler {
    /// The planner's view of the world: the rules, the waiting runs, registered
    /// instances, a placeholder for each instance a batch is still bringing up, and the
    /// facts of each allowed type (asked of the provider once per process).
    func plannerInput(active: ActiveProvider, now: Date, report: inout Report) async throws -> PlannerInput {
        let (rules, enabled, waiting, fleet, batches, requests) = try workspace.state().read { tx in
            (try tx.rules(), try tx.isEnabled(), try tx.waitingRunRequirements(), try tx.fleet(vendor: active.vendor),
             try tx.openBatches(vendor: active.vendor), try tx.pendingInstanceRequests())
        }
        for rule in rules where factsCache[rule.instanceType] == nil || factsAreStale(rule.instanceType, now: now) {
            report.providerCalls += 1
            if let facts = try? await active.provider.validateInstanceType(rule.instanceType) {
                factsCache[rule.instanceType] = facts
                factsFetchedAt[rule.instanceType] = now
                try recordSpotPrices(facts, now: now)
            }
        }
        let cooled = try workspace.state().read { try $0.offeringCooldowns(at: now) }
        var instances: [PlannerInstance] = []
        for instance in fleet where instance.registeredAt != nil {
            guard let phase = Self.plannerPhase(of: instance, now: now) else { continue }
            instances.append(PlannerInstance(id: instance.id, instanceType: instance.instanceType, phase: phase,
                                             launchedAt: instance.recordedAt, diskGB: instance.diskGB))
        }
        for batch in batches {
            for slot in 0..<batch.provisioning {
                instances.append(PlannerInstance(id: Self.placeholderID(batch.token, slot), instanceType: batch.instanceType,
                                                 phase: .provisioning, launchedAt: batch.createdAt, diskGB: batch.diskGB))
            }
        }
        return PlannerInput(
            rules: Dictionary(rules.map { ($0.instanceType, $0.max) }, uniquingKeysWith: { _, last in last }),
            enabled: enabled,
            pendingRuns: waiting.filter { !$0.stopRequested }.map { PlannerRun(id: $0.id, requirements: $0.requirements) },
            instances: instances,
            facts: factsCache.filter { fact in rules.contains { $0.instanceType == fact.key } }
                .mapValues { Self.pricedByOpenZones($0, cooled: cooled) },
            unavailableTypes: Set(unavailableUntil.filter { $0.value > now }.keys)
                .union(Self.hardCooledTypes(cooled, facts: factsCache)),
            now: now,
            idleTimeout: options.idleTimeout,
            instanceRequests: requests.map { PlannerInstanceRequest(id: $0.id, instanceType: $0.instanceType, count: $0.count) })
    }

    static func placeholderID(_ batchToken: String, _ slot: Int) -> String { "batch:\(batchToken):\(slot)" }

    /// How many assignments one transaction commits before their runners are woken.
    static let assignmentsPerTransaction = 50

    static func batchToken(fromPlaceholder id: String) -> String? {
        let parts = id.split(separator: ":")
        return parts.count == 3 && parts[0] == "batch" ? String(parts[1]) : nil
    }

    /// Carries out a plan: terminations first (they free capacity), then launches, then
    /// assignments, then the reasons waiting runs give.
    func apply(_ plan: Plan, active: ActiveProvider, cloud: [ManagedInstance], now: Date, report: inout Report) async throws {
        let state = try workspace.state()
        let vendor = active.vendor

        if !plan.terminations.isEmpty {
            let fleet = try state.read { try $0.fleet(vendor: vendor) }
            let batches = try state.read { try $0.openBatches(vendor: vendor) }
            var target = TerminationTarget()
            var closedBatches = Set<String>()
            var shrunkBatches: [String: Int] = [:]
            let registered = Set(fleet.filter { $0.registeredAt != nil }.map(\.id))
            // Slots of a launch batch whose runners have not registered, by batch.
            let droppedSlots = Dictionary(grouping: plan.terminations.compactMap { Self.batchToken(fromPlaceholder: $0.instanceID) },
                                          by: { $0 }).mapValues(\.count)
            for (token, dropped) in droppedSlots.sorted(by: { $0.key < $1.key }) {
                guard let batch = batches.first(where: { $0.token == token }) else { continue }
                // Its pieces are its spot requests' instances and open requests, or (on a
                // cloud without spot requests, such as the local provider) the instances
                // state recorded for it.
                let recorded = Set(fleet.filter { $0.launchToken == token }.map(\.id))
                let pieces = cloud.filter { instance in
                    instance.state.isLive && !registered.contains(instance.id)
                        && ((instance.spotRequestID.map(batch.spotRequestIDs.contains) ?? false) || recorded.contains(instance.id))
                }
                if dropped < batch.provisioning, pieces.count == batch.provisioning {
                    // Each slot is a piece of its own: the batch gives up the newest `dropped`
                    // (an open request first: it has done no work) and keeps the rest.
                    let going = pieces.sorted { ($0.launchTime ?? .distantFuture, $0.id) > ($1.launchTime ?? .distantFuture, $1.id) }
                        .prefix(dropped)
                    let part = TerminationTarget(instances: Array(going))
                    target.instanceIDs += part.instanceIDs
                    target.spotRequestIDs += part.spotRequestIDs
                    shrunkBatches[token] = dropped
                } else {
                    // Not told apart (nothing sent yet, or pieces missing): the batch gives up
                    // everything it has not brought up.
                    closedBatches.insert(token)
                    target.spotRequestIDs += batch.spotRequestIDs
                    target.instanceIDs += pieces.filter { !$0.isUnfulfilledRequest }.map(\.id)
                }
            }
            for termination in plan.terminations where Self.batchToken(fromPlaceholder: termination.instanceID) == nil {
                target.instanceIDs.append(termination.instanceID)
                if let request = fleet.first(where: { $0.id == termination.instanceID })?.spotRequestID
                    ?? cloud.first(where: { $0.id == termination.instanceID })?.spotRequestID {
                    target.spotRequestIDs.append(request)
                }
            }
            // Journal first: a crash after this point leaves instances state no longer
            // knows, which the next pass sweeps.
            try state.write { tx in
                for token in closedBatches { try tx.closeBatch(token: token) }
                for (token, slots) in shrunkBatches { try tx.shrinkBatch(token: token, by: slots) }
                for termination in plan.terminations where Self.batchToken(fromPlaceholder: termination.instanceID) == nil {
                    if let runID = try InstanceShutdown.journal(instanceID: termination.instanceID, why: termination.reason.rawValue,
                                                                tx: tx, at: clock()) {
                        report.retried.append(runID)
                        report.requeued[termination.instanceID] = runID
                    }
                }
            }
            if !target.isEmpty {
                try await terminate(target, active: active, report: &report)
                report.terminated += target.instanceIDs
            }
        }

        if !plan.refusedRequests.isEmpty {
            try state.write { tx in
                for (id, reason) in plan.refusedRequests { try tx.refuseInstanceRequest(id, reason: reason) }
            }
        }
        var failedLaunchRuns = Set<String>()
        for launch in plan.launches {
            // Instances that could not reach the server, or get a runner, would boot only
            // to bill: the runs say why instead, and nothing is launched.
            if case .failure(let problem) = bootstrap(instanceType: launch.instanceType, active: active, registrationToken: "") {
                failedLaunchRuns.formUnion(launch.forRuns)
                try state.write { tx in
                    for runID in launch.forRuns { try tx.setRunReason(runID, status: .pending, reason: problem.description) }
                    if let request = launch.forRequest { try tx.refuseInstanceRequest(request, reason: problem.description) }
                }
                continue
            }
            let token = "dstack-\(SecureRandom.hex(16))"
            let registration = SecureRandom.hex(32)
            // One disk size per batch: the largest any of its runs asked for.
            let diskGB = try state.read { tx in try launch.forRuns.compactMap { try tx.run($0)?.requirements.diskGB }.max() }
            try state.write { tx in
                try tx.journalBatch(token: token, vendor: vendor, instanceType: launch.instanceType, count: launch.count,
                                    registrationHash: TokenHash.sha256Hex(registration), diskGB: diskGB, at: now)
                try tx.recordLaunchPurpose(token: token, runIDs: launch.forRuns, serverURL: options.advertiseURL)
                // Journaled with the batch: a crash before the provider call leaves the batch
                // to be resent, and the request is not carried out twice.
                if let request = launch.forRequest { try tx.markInstanceRequestLaunched(request, launchToken: token) }
            }
            let sent = await send(batchToken: token, instanceType: launch.instanceType, count: launch.count,
                                  registrationToken: registration, active: active, now: now, diskGB: diskGB, report: &report)
            if sent == nil {
                report.launchedFor[token] = launch.forRuns
                report.launchedTypes[token] = launch.instanceType
            }
            if let failure = sent {
                failedLaunchRuns.formUnion(launch.forRuns)
                let noCapacity = (unavailableUntil[launch.instanceType] ?? .distantPast) > now
                try state.write { tx in
                    for runID in launch.forRuns {
                        if noCapacity, try failWithoutCapacity(runID, instanceType: launch.instanceType, failure: failure, tx: tx, now: now,
                                                               report: &report) { continue }
                        try tx.setRunReason(runID, status: .pending, reason: "could not launch \(launch.instanceType): \(failure)")
                    }
                    if let request = launch.forRequest {
                        try tx.refuseInstanceRequest(request, reason: "could not launch \(launch.instanceType): \(failure)")
                    }
                }
            }
        }

        // In chunks, each committed and its runners woken before the next is written: a
        // thousand idle runners do not wait for one transaction of a thousand assignments.
        for chunk in stride(from: 0, to: plan.assignments.count, by: Self.assignmentsPerTransaction) {
            let assignments = plan.assignments[chunk..<min(plan.assignments.count, chunk + Self.assignmentsPerTransaction)]
            // Each assignment holds only if the run still waits and the instance is still
            // idle: the CLI and the runner API change state while a pass runs.
            let made: [Plan.Assignment] = try state.write { tx in
                // Stamped when committed, not when the pass began: a runner can see the
                // assignment from here on, so this is where its latency starts.
                let assignedAt = clock()
                var made: [Plan.Assignment] = []
                for assignment in assignments {
                    guard try tx.fleetInstance(assignment.instanceID)?.phase == .idle,
                          let attempt = try tx.startAttempt(assignment.runID, on: assignment.instanceID, at: assignedAt) else { continue }
                    try tx.assign(runID: assignment.runID, to: assignment.instanceID, at: assignedAt)
                    try tx.appendLog(runID: assignment.runID, attempt: attempt, stream: .system,
                                     text: "[dstack] attempt \(attempt) assigned to instance \(assignment.instanceID)\n", at: assignedAt)
                    try tx.setRunStage(assignment.runID, RunStage.runnerRegistered)
                    made.append(assignment)
                }
                return made
            }
            report.assigned += made.count
            report.assignments += made
            for assignment in made { onAssignment?(assignment.instanceID) }
        }

        // Only the runs whose status or reason changed: with a long queue most keep theirs
        // from pass to pass. Worked out in a read, so the write lock is taken only when
        // something changed, and only for the updates: with thousands of waiting runs,
        // reading them under the lock would hold up every other writer. Each update
        // checks again that its run still waits and differs (`setRunReasons`), and only
        // a pass sets reasons and notes, so the read cannot be outdated in a way that matters.
        let (current, notes) = try state.read { tx in
            (Dictionary(try tx.waitingRunSummaries().map { ($0.id, ($0.status, $0.reason)) }, uniquingKeysWith: { first, _ in first }),
             try tx.waitNotes())
        }
        // A note lasts while a launch is bringing its run up.
        let endedNotes = notes.keys.filter { plan.claimedProvisioning[$0] == nil }
        // Grouped by what they change to: a queue's runs mostly wait for the same reason.
        struct Change: Hashable { var status: RunStatus; var reason: String? }
        var changes: [Change: [String]] = [:]
        for (runID, planned) in plan.waiting where !failedLaunchRuns.contains(runID) {
            let status: RunStatus = plan.claimedProvisioning[runID] != nil ? .provisioning : .pending
            let reason = Self.waitingReason(planned: planned, note: notes[runID], claimed: status == .provisioning)
            guard let (was, wasReason) = current[runID], was != status || wasReason != reason else { continue }
            changes[Change(status: status, reason: reason), default: []].append(runID)
        }
        if !endedNotes.isEmpty || !changes.isEmpty {
            try state.write { tx in
                for runID in endedNotes { try tx.setWaitNote(runID, nil) }
                for (change, runIDs) in changes { try tx.setRunReasons(runIDs, status: change.status, reason: change.reason) }
            }
        }
        try recordStages(plan: plan, cloud: cloud, vendor: vendor)
    }

    /// Requests a batch's instances with its user data. Returns nil on success, or the
    /// one-sentence reason the launch failed (after closing the batch).
    @discardableResult
    func send(batchToken: String, instanceType: String, count: Int, registrationToken: String, active: ActiveProvider,
              now: Date, diskGB: Int? = nil, report: inout Report) async -> String? {
        if factsCache[instanceType] == nil, !active.plugin.instancesRunOnThisMachine {
            // A launch resent after a restart comes before this process has asked for facts.
            report.providerCalls += 1
            factsCache[instanceType] = try? await active.provider.validateInstanceType(instanceType)
        }
        report.providerCalls += 1
        do {
            let userData = try bootstrap(instanceType: instanceType, active: active, registrationToken: registrationToken).get().render()
            var request = SpotRequest(instanceType: instanceType, count: count, userData: userData, idempotencyToken: batchToken,
                                      diskGB: diskGB)
            request.availabilityZone = try zone(forBatch: batchToken, instanceType: instanceType, now: now)
            let launch = try await active.provider.requestSpot(request)
            try workspace.state().write { tx in
                try tx.markLaunchSent(token: batchToken, spotRequestIDs: launch.spotRequestIDs)
                try tx.recordInstances(launch.instances, vendor: active.vendor, launchToken: batchToken)
            }
            report.launched[instanceType, default: 0] += count
            return nil
        } catch {
            let message = (error as? ProviderError)?.userMessage ?? String(describing: error)
            if case ProviderError.capacityUnavailable = error {
                unavailableUntil[instanceType] = now.addingTimeInterval(options.capacityCooldown)
            }
            try? workspace.state().write { tx in
                try tx.markLaunchFailed(token: batchToken, error: message)
                try tx.closeBatch(token: batchToken)
            }
            report.errors.append("could not launch \(count) \(instanceType): \(message)")
            return message
        }
    }
}

extension Reconciler {
    /// The user data for an instance of `instanceType`, from the server's runner delivery
    /// and the type's architecture (asked of the provider once per process).
    func bootstrap(instanceType: String, active: ActiveProvider, registrationToken: String) -> Result<RunnerBootstrap, RunnerDeliveryError> {
        let settings = (try? workspace.configuration().providers[active.vendor]) ?? [:]
        return options.delivery.bootstrap(plugin: active.plugin, settings: settings,
                                          architecture: factsCache[instanceType]?.architecture, registrationToken: registrationToken)
    }
}
