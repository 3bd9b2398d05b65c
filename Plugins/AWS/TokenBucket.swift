import Foundation

/// A client-side token bucket: a burst of `capacity` calls goes out at once, then
/// calls are paced at `refillPerSecond`, so a burst of work cannot trip EC2's own
/// request limits. Time and sleeping are injected for tests.
public actor TokenBucket {
    public let capacity: Double
    public let refillPerSecond: Double
    private var tokens: Double
    private var last: Date
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (TimeInterval) async -> Void

    public init(capacity: Double = 20, refillPerSecond: Double = 10,
                now: @escaping @Sendable () -> Date = { Date() },
                sleep: @escaping @Sendable (TimeInterval) async -> Void = RetryPolicy.taskSleep) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.tokens = capacity
        self.now = now
        self.last = now()
        self.sleep = sleep
    }

    /// Takes one token, waiting for it when the bucket is empty. Returns how long it waited.
    @discardableResult
    public func acquire() async -> TimeInterval {
        var waited: TimeInterval = 0
        while true {
            refill()
            if tokens >= 1 {
                tokens -= 1
                return waited
            }
            let wait = (1 - tokens) / refillPerSecond
            waited += wait
            await sleep(wait)
        }
    }

    public var available: Double {
        refill()
        return tokens
    }

    private func refill() {
        let current = now()
        let elapsed = max(0, current.timeIntervalSince(last))
        last = current
        tokens = min(capacity, tokens + elapsed * refillPerSecond)
    }
}
