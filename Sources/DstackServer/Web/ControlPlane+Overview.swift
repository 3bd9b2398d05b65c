import DstackAPI
import DstackCore
import Foundation

/// What the page and `/metrics` read: state and the cloud's list as the last reconcile
/// pass saw it, current prices from the offerings cache, and costs from the cost model
/// (`CostLedger`, over the price history in state). None of it calls the cloud, so a
/// page open in many browsers or a scraper every few seconds costs the account nothing.
extension ControlPlane {
    func overview(now: Date = Date()) async throws -> OverviewReply {
        let vendor = try workspace.activeVendor()
        let (rules, enabled, fleet) = try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in
                (try tx.rules(), try tx.isEnabled(), try vendor.map { try tx.fleet(vendor: $0) } ?? [])
            }
        }
        let known = Dictionary(fleet.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let listed = observers.cloudList.read()
        // Before the first pass has listed the cloud, the fleet state knows is what there is.
        let cloud = listed?.instances ?? fleet.map {
            ManagedInstance(id: $0.id, instanceType: $0.instanceType, state: .pending, launchTime: $0.registeredAt ?? $0.recordedAt,
                            spotRequestID: $0.spotRequestID)
        }
        let price: (String) -> Double? = { [offerings] type in
            vendor.flatMap { offerings.known(vendor: $0, instanceType: type)?.spotPricePerHour }
        }
        let shown = cloud.filter { $0.state != .terminated }
        let (costs, spend) = try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in
                (try CostLedger.instanceCosts(shown.map(\.id), tx: tx, now: now),
                 try CostLedger.ruleSpend(rules.map(\.instanceType), tx: tx, now: now))
            }
        }
        let instances = shown
            .sorted { ($0.launchTime ?? .distantFuture, $0.id) < ($1.launchTime ?? .distantFuture, $1.id) }
            .map { instance -> InstanceOverview in
                let state = instance.isUnfulfilledRequest ? "requested" : instance.state.rawValue
                return InstanceOverview(id: instance.id, instanceType: instance.instanceType,
                                        zone: instance.extras["availability_zone"] ?? instance.availabilityZone, state: state,
                                        runId: known[instance.id]?.runID, launchTime: instance.launchTime,
                                        idleSince: known[instance.id]?.idleSince, costDollars: costs[instance.id]?.decimalText)
            }
        let counts = AutoscaleService.liveCounts(cloud)
        let ruleOverviews = rules.map { rule -> RuleOverview in
            RuleOverview(instanceType: rule.instanceType, max: rule.max, instances: counts[rule.instanceType] ?? 0,
                         pricePerHour: price(rule.instanceType), spendTodayDollars: spend[rule.instanceType]?.today?.decimalText,
                         spendLast30DaysDollars: spend[rule.instanceType]?.last30Days?.decimalText)
        }
        return OverviewReply(provider: vendor, enabled: enabled, listedAt: listed?.at, now: now, rules: ruleOverviews,
                             instances: instances)
    }

    /// The overview as `caller` may see it: a user who is not an admin sees every
    /// instance, but the run on it only when that run is theirs.
    func overview(for caller: Caller, now: Date = Date()) async throws -> OverviewReply {
        var reply = try await overview(now: now)
        guard !caller.isAdmin else { return reply }
        let shown = reply.instances.compactMap(\.runId)
        let owned = try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in try tx.runs(shown, submittedBy: caller.name) }
        }
        for index in reply.instances.indices where reply.instances[index].runId.map({ !owned.contains($0) }) ?? false {
            reply.instances[index].runId = nil
        }
        return reply
    }

    /// The gauges of `/metrics`, from the same sources as the overview.
    func metricsReading(now: Date = Date()) async throws -> ServerMetrics.Reading {
        let (counts, oldest) = try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in (try tx.runCountsByStatus(), try tx.oldestWaitingSubmission()) }
        }
        var reading = ServerMetrics.Reading()
        for status in RunStatus.allCases { reading.runsByStatus[status.rawValue] = counts[status.rawValue] ?? 0 }
        reading.queueAgeSeconds = oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0
        let overview = try await overview(now: now)
        for instance in overview.instances {
            reading.instances[[instance.instanceType, instance.zone ?? "unknown", instance.state], default: 0] += 1
        }
        let spend = try await BlockingWork.run { [workspace] in try workspace.state().read { try CostLedger.totalSpend($0, now: now) } }
        if spend.pricedRunning > 0 || spend.total > .zero { reading.spendDollars = Double(spend.total.micros) / 1_000_000 }
        reading.instancesPriced = spend.pricedRunning
        return reading
    }

    /// The timeline; a user who is not an admin sees the fleet but none of other users' runs.
    func events(before: Int?, limit: Int, for caller: Caller) async throws -> EventsReply {
        let user = caller.isAdmin ? nil : caller.name
        let records = try await BlockingWork.run { [workspace] in
            try workspace.state().read { try $0.events(before: before, limit: limit, visibleTo: user) }
        }
        return EventsReply(events: records.map {
            EventInfo(id: $0.id, at: $0.at, kind: $0.kind, subject: $0.subject, detail: $0.detail)
        })
    }

    /// Changes whenever what the page shows does (state, the timeline, the cloud's list).
    func changeMark() async throws -> String {
        let mark = try await BlockingWork.run { [workspace] in try workspace.state().read { try $0.changeMark() } }
        return mark + "|" + String(observers.cloudList.changeVersion)
    }
}
