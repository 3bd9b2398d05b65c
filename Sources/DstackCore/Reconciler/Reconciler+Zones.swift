import Foundation

/// Which zone a launch goes to, and what the planner sees of prices: the cheapest zone
/// that no hard cooldown closes, ranked after the zones no interruption cooled either.
extension Reconciler {
    /// How long a type's facts (its spot prices per zone) are used before asking again.
    static let factsLifetime: TimeInterval = 600

    func factsAreStale(_ type: String, now: Date) -> Bool {
        guard let fetched = factsFetchedAt[type] else { return true }
        return now.timeIntervalSince(fetched) >= Self.factsLifetime
    }

    /// The zones of a type, best first: not hard-cooled; those no interruption cooled
    /// first; then by price, then by name. Empty when the provider names no zones.
    public static func rankedZones(_ facts: InstanceTypeFacts, cooled: [OfferingCooldown]) -> [String] {
        let mine = cooled.filter { $0.instanceType == facts.name }
        let closed = Set(mine.filter(\.hard).map(\.zone))
        let soft = Set(mine.filter { !$0.hard }.map(\.zone))
        return facts.spotPricesByZone.keys.filter { !closed.contains($0) }.sorted { a, b in
            let (sa, sb) = (soft.contains(a), soft.contains(b))
            if sa != sb { return !sa }
            let (pa, pb) = (facts.spotPricesByZone[a]!, facts.spotPricesByZone[b]!)
            return pa != pb ? pa < pb : a < b
        }
    }

    /// The facts with the price of the best zone still open, so the planner ranks types
    /// by what a launch would really cost now.
    static func pricedByOpenZones(_ facts: InstanceTypeFacts, cooled: [OfferingCooldown]) -> InstanceTypeFacts {
        guard !facts.spotPricesByZone.isEmpty else { return facts }
        var priced = facts
        priced.spotPricePerHour = rankedZones(facts, cooled: cooled).first.flatMap { facts.spotPricesByZone[$0] }
            ?? facts.spotPricePerHour
        return priced
    }

    /// Types a hard cooldown closes: as a whole (zone ""), or in every zone they are offered in.
    static func hardCooledTypes(_ cooled: [OfferingCooldown], facts: [String: InstanceTypeFacts]) -> Set<String> {
        var closed = Set(cooled.filter { $0.hard && $0.zone.isEmpty }.map(\.instanceType))
        for (type, fact) in facts where !fact.spotPricesByZone.isEmpty && rankedZones(fact, cooled: cooled).isEmpty {
            closed.insert(type)
        }
        return closed
    }

    /// The zone for a batch: the one it was placed in before (a resend after a crash
    /// asks for the same), else the best-ranked zone, recorded with the launch.
    func zone(forBatch token: String, instanceType: String, now: Date) throws -> String? {
        let state = try workspace.state()
        if let placed = try state.read({ try $0.launchZone(token: token) }) { return placed }
        guard let facts = factsCache[instanceType] else { return nil }
        let cooled = try state.read { try $0.offeringCooldowns(at: now) }
        guard let zone = Self.rankedZones(facts, cooled: cooled).first else { return nil }
        try state.write { try $0.setLaunchZone(token: token, zone: zone) }
        return zone
    }
}
