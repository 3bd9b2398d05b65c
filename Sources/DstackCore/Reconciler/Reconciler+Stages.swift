import Foundation

extension OpenBatch {
    /// True when the cloud's item is one this batch launched: an instance state recorded
    /// for it (`recorded`), or an instance or open request of one of its spot requests.
    func owns(_ item: ManagedInstance, recorded: Set<String>) -> Bool {
        recorded.contains(item.id)
            || (item.spotRequestID.map(spotRequestIDs.contains) ?? false)
            || (item.isUnfulfilledRequest && spotRequestIDs.contains(item.id))
    }
}

extension Reconciler {
    /// Writes each waiting run's stage: the furthest point its launch has reached in the
    /// cloud's list (or, for a launch made this pass and not listed yet, what the launch
    /// returned). A run is on its latest launch, or else on a launch of the type the
    /// planner had it claim; a run on none (at a max, say) has no stage.
    func recordStages(plan: Plan, cloud: [ManagedInstance], vendor: String) throws {
        let state = try workspace.state()
        // Worked out in a read; a pass where no stage moved takes no write lock.
        let changed: [String: String?] = try state.read { tx in
            let waiting = try tx.waitingRunSummaries().filter { !$0.stopRequested }
            let batches = try tx.openBatches(vendor: vendor)
            let fleet = try tx.fleet(vendor: vendor)
            let launchedFor = try tx.runsLaunchedFor(tokens: batches.map(\.token))
            let queueOrder = Dictionary(waiting.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })

            var runsOf: [String: [String]] = [:]
            var placed = Set<String>()
            for batch in batches.reversed() {
                for run in launchedFor[batch.token] ?? [] where queueOrder[run] != nil && !placed.contains(run) {
                    runsOf[batch.token, default: []].append(run)
                    placed.insert(run)
                }
            }
            for run in waiting where !placed.contains(run.id) {
                guard let type = plan.claimedProvisioning[run.id],
                      let batch = batches.first(where: { $0.instanceType == type }) else { continue }
                runsOf[batch.token, default: []].append(run.id)
                placed.insert(run.id)
            }

            let registered = Set(fleet.filter { $0.registeredAt != nil }.map(\.id))
            var stages: [String: String] = [:]
            for batch in batches {
                guard let runs = runsOf[batch.token]?.sorted(by: { queueOrder[$0]! < queueOrder[$1]! }) else { continue }
                let recorded = fleet.filter { $0.launchToken == batch.token && $0.registeredAt == nil }
                var items = cloud.filter { batch.owns($0, recorded: Set(recorded.map(\.id))) && !registered.contains($0.id) }
                if items.isEmpty {
                    items = recorded.map { ManagedInstance(id: $0.id, instanceType: batch.instanceType, state: .pending,
                                                           spotRequestID: $0.spotRequestID) }
                    items += batch.spotRequestIDs.filter { request in !recorded.contains { $0.spotRequestID == request } }.map {
                        ManagedInstance(id: $0, instanceType: batch.instanceType, state: .pending, spotRequestID: $0,
                                        isUnfulfilledRequest: true)
                    }
                }
                stages.merge(RunStage.stages(runs: runs, items: items)) { first, _ in first }
            }
            var changed: [String: String?] = [:]
            for run in waiting where run.stage != stages[run.id] { changed[run.id] = stages[run.id] }
            return changed
        }
        guard !changed.isEmpty else { return }
        try state.write { tx in
            for (runID, stage) in changed where try tx.run(runID)?.status.isWaiting == true {
                try tx.setRunStage(runID, stage)
            }
        }
    }
}
