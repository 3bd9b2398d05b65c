import Foundation

/// The cost model fed from state: what the API, the page and `/metrics` report.
public enum CostLedger {
    /// Spend per rule over the two windows `dstack autoscale info` shows.
    public struct RuleSpend: Sendable, Equatable {
        public var today: MicroDollars?
        public var last30Days: MicroDollars?
    }

    /// The state entries for the prices a type's facts came with: the provider's history,
    /// else each zone's current price as seen at `seenAt`.
    public static func priceRecords(_ facts: InstanceTypeFacts, seenAt: Date) -> [SpotPriceRecord] {
        let points = facts.spotPriceHistory.isEmpty
            ? facts.spotPricesByZone.map { SpotPricePoint(zone: $0.key, at: seenAt, pricePerHour: $0.value) }
            : facts.spotPriceHistory
        return points.map {
            SpotPriceRecord(instanceType: facts.name, zone: $0.zone, at: $0.at,
                            microsPerHour: MicroDollars(dollars: $0.pricePerHour).micros)
        }
    }

    public static func schedules(_ records: [SpotPriceRecord]) -> [CostModel.PriceKey: PriceSchedule] {
        Dictionary(grouping: records) { CostModel.PriceKey(instanceType: $0.instanceType, zone: $0.zone) }
            .compactMapValues { group in
                PriceSchedule(group.map { PriceSchedule.Change(at: $0.at, perHour: MicroDollars(micros: $0.microsPerHour)) })
            }
    }

    static func life(_ record: InstanceLifeRecord) -> InstanceLife {
        InstanceLife(id: record.id, instanceType: record.instanceType, zone: record.zone, start: record.startedAt, end: record.endedAt)
    }

    static func span(_ record: RunUsageRecord) -> BusySpan {
        BusySpan(runID: record.runID, instanceID: record.instanceID, start: record.startedAt, end: record.endedAt)
    }

    /// Every instance, run and rule's cost within `window` (nil: all time) as of `now`.
    public static func breakdown(_ tx: StateTransaction, window: DateInterval? = nil, now: Date) throws -> CostBreakdown {
        let lives = try tx.instanceLives(since: window?.start)
        let busy = try tx.runUsage(since: window?.start)
        let prices = try tx.spotPrices(instanceTypes: Array(Set(lives.map(\.instanceType))))
        return CostModel.breakdown(lives: lives.map(life), busy: busy.map(span), prices: schedules(prices), window: window, now: now)
    }

    /// What each of these runs has cost, every attempt summed; a run absent from the
    /// answer has no priced time (it has not run, or ran where prices are unknown).
    public static func runCosts(_ runIDs: [String], tx: StateTransaction, now: Date) throws -> [String: MicroDollars] {
        let busy = try tx.runUsage(runIDs: runIDs)
        guard !busy.isEmpty else { return [:] }
        let lives = try tx.instanceLives(ids: Array(Set(busy.map(\.instanceID))))
        let prices = try tx.spotPrices(instanceTypes: Array(Set(lives.map(\.instanceType))))
        return CostModel.breakdown(lives: lives.map(life), busy: busy.map(span), prices: schedules(prices), now: now).runs
    }

    /// What each of these instances has cost over its life so far; absent: no price known.
    public static func instanceCosts(_ ids: [String], tx: StateTransaction, now: Date) throws -> [String: MicroDollars] {
        let lives = try tx.instanceLives(ids: ids)
        guard !lives.isEmpty else { return [:] }
        let prices = try tx.spotPrices(instanceTypes: Array(Set(lives.map(\.instanceType))))
        return CostModel.breakdown(lives: lives.map(life), busy: [], prices: schedules(prices), now: now).instances
    }

    /// Everything dstack's instances have cost, and how many of those running now are
    /// priced (`/metrics`).
    public static func totalSpend(_ tx: StateTransaction, now: Date) throws -> (total: MicroDollars, pricedRunning: Int) {
        let lives = try tx.instanceLives()
        let prices = try tx.spotPrices(instanceTypes: Array(Set(lives.map(\.instanceType))))
        let costs = CostModel.breakdown(lives: lives.map(life), busy: [], prices: schedules(prices), now: now)
        return (costs.total, lives.filter { $0.endedAt == nil && costs.instances[$0.id] != nil }.count)
    }

    /// What each rule's instances spent idle and booting today (UTC) and in the last 30
    /// days. nil: no price is known for the type (a provider without prices).
    public static func ruleSpend(_ instanceTypes: [String], tx: StateTransaction, now: Date) throws -> [String: RuleSpend] {
        let month = try breakdown(tx, window: CostModel.last30Days(now), now: now)
        let today = try breakdown(tx, window: CostModel.today(now), now: now)
        let priced = Set(try tx.spotPrices(instanceTypes: instanceTypes).map(\.instanceType))
        var result: [String: RuleSpend] = [:]
        for type in instanceTypes where priced.contains(type) {
            result[type] = RuleSpend(today: today.rules[type] ?? .zero, last30Days: month.rules[type] ?? .zero)
        }
        return result
    }
}
