import Foundation

/// Spot requests the cloud holds unfulfilled. One whose status may change (no capacity
/// now, not scheduled yet) is given `--fulfillment-timeout`; one whose status cannot
/// change (the price is too low, a constraint cannot be met) none. Then the request is
/// cancelled, its pool (type and zone) cooled hard, and its runs launched again in the
/// next zone, or, with every zone of the type cooled, on the next type that fits; a run
/// says which (`m5.xlarge: capacity-not-available in us-east-1a, trying us-east-1b`).
/// An instance the cloud fulfils a cancelled request with afterwards is terminated.
extension Reconciler {
    func settleHeldRequests(_ cloud: [ManagedInstance], active: ActiveProvider, now: Date, report: inout Report) async throws {
        let state = try workspace.state()
        cancelledRequests = try state.read { try $0.cancelledSpotRequests(vendor: active.vendor) }
        var target = TerminationTarget()
        for item in cloud where item.state.isLive {
            guard let request = item.spotRequestID, cancelledRequests.contains(request) else { continue }
            if item.isUnfulfilledRequest {
                target.spotRequestIDs.append(item.id) // still open: the cancel did not go through, so again
            } else {
                target.instanceIDs.append(item.id)
            }
        }
        let batches = try state.read { try $0.openBatches(vendor: active.vendor) }.filter { $0.status == .sent }
        var held: [(batch: OpenBatch, requests: [ManagedInstance])] = []
        for batch in batches {
            let giveUp = cloud.filter { item in
                guard item.isUnfulfilledRequest, item.state.isLive, batch.spotRequestIDs.contains(item.id),
                      let hold = item.requestHold else { return false }
                return hold == .cannotChange || now.timeIntervalSince(item.launchTime ?? batch.createdAt) >= options.fulfillmentTimeout
            }
            if !giveUp.isEmpty { held.append((batch, giveUp)) }
        }
        if !held.isEmpty {
            let launchedFor = try state.read { try $0.runsLaunchedFor(tokens: held.map(\.batch.token)) }
            try state.write { tx in
                for (batch, requests) in held {
                    for request in requests {
                        try tx.coolOffering(OfferingCooldown(
                            instanceType: batch.instanceType, zone: request.availabilityZone ?? "",
                            until: now.addingTimeInterval(options.capacityCooldown),
                            reason: "spot request \(request.id) held: \(request.spotRequestStatus ?? "unfulfilled")", hard: true))
                    }
                    if requests.count >= batch.provisioning { try tx.closeBatch(token: batch.token) } else {
                        try tx.shrinkBatch(token: batch.token, by: requests.count)
                    }
                }
                let cooled = try tx.offeringCooldowns(at: now)
                for (batch, requests) in held {
                    let first = requests[0]
                    let next = factsCache[batch.instanceType].flatMap { Self.rankedZones($0, cooled: cooled).first }
                    let note = "\(batch.instanceType): \(first.spotRequestStatus ?? "unfulfilled")"
                        + (first.availabilityZone.map { " in \($0)" } ?? "")
                        + (next.map { ", trying \($0)" } ?? ", trying another type that fits")
                    report.heldRequests[batch.token] = note
                    for runID in launchedFor[batch.token] ?? [] {
                        guard let run = try tx.run(runID), run.status.isWaiting, !run.stopRequested else { continue }
                        try tx.setWaitNote(runID, note)
                        try tx.appendLog(runID: runID, attempt: run.attempt, stream: .system, text: """
                            [dstack] the spot request of launch \(batch.token) was not fulfilled (\(note)); it was cancelled\n
                            """, at: now)
                        try tx.setRunReason(runID, status: .pending, reason: note)
                    }
                }
                // Journaled before the cancel goes out: a fulfilment that races it is
                // recognised even if this process stops right after.
                try tx.recordCancelledSpotRequests(held.flatMap { $0.requests.map(\.id) }, vendor: active.vendor, at: now,
                                                   forgetBefore: now.addingTimeInterval(-Self.cancelledRequestMemory))
            }
            for (_, requests) in held {
                target.spotRequestIDs += requests.map(\.id)
                cancelledRequests.formUnion(requests.map(\.id))
            }
        }
        guard !target.isEmpty else { return }
        try await terminate(target, active: active, report: &report)
        report.terminated += target.instanceIDs
    }

    /// How long a cancelled request is remembered: far longer than a cloud takes to
    /// fulfil one as it is cancelled, and past the sweep grace, after which an instance
    /// state does not know is swept anyway.
    static let cancelledRequestMemory: TimeInterval = 24 * 3600

    /// A run's reason while its next launch comes up: the note of the request given up
    /// for it, if any, else what the planner says.
    static func waitingReason(planned: String, note: String?, claimed: Bool) -> String {
        guard claimed, let note else { return planned }
        return note
    }
}
