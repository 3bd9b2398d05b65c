import Foundation

/// Capped exponential backoff with full jitter (a random delay between zero and the
/// capped exponential): many runners that lost the server at once do not come back
/// to it in lockstep.
public struct Backoff: Sendable {
    public var base: TimeInterval
    public var cap: TimeInterval
    public private(set) var attempt = 0

    public init(base: TimeInterval = 0.25, cap: TimeInterval = 10) {
        self.base = base
        self.cap = cap
    }

    /// The ceiling of the next delay, before jitter.
    public var ceiling: TimeInterval { min(cap, base * pow(2, Double(min(attempt, 30)))) }

    public mutating func nextDelay() -> TimeInterval {
        let delay = TimeInterval.random(in: 0...ceiling)
        attempt += 1
        return delay
    }

    public mutating func reset() { attempt = 0 }
}
