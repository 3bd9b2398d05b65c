import Foundation

/// One entry of a cloud's spot price history: from `at` on, an instance of the type in
/// `zone` cost `pricePerHour` US dollars an hour (until the zone's next entry). The cost
/// model prices an instance's life piecewise from these.
public struct SpotPricePoint: Sendable, Equatable, Hashable {
    public var zone: String
    public var at: Date
    public var pricePerHour: Double

    public init(zone: String, at: Date, pricePerHour: Double) {
        self.zone = zone
        self.at = at
        self.pricePerHour = pricePerHour
    }
}
