import Foundation

extension Reconciler {
    /// Keeps the prices a type's facts came with, for the cost model: the provider's
    /// history entries, or (a provider that reports only current prices) each zone's price
    /// as seen now. State skips entries that repeat the price in effect.
    func recordSpotPrices(_ facts: InstanceTypeFacts, now: Date) throws {
        let records = CostLedger.priceRecords(facts, seenAt: now)
        guard !records.isEmpty else { return }
        try workspace.state().write { try $0.recordSpotPrices(records) }
    }
}
