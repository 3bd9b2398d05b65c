import Foundation

/// Capped exponential backoff with full jitter (the AWS Architecture Blog's
/// recommendation): attempt n waits a random time in [0, min(cap, base·2ⁿ)].
/// The sleeper and the random source are injected so tests run instantly.
public struct RetryPolicy: Sendable {
    /// Total tries, the first one included.
    public var maxAttempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval
    public var sleep: @Sendable (TimeInterval) async -> Void
    /// A number in [0, 1).
    public var random: @Sendable () -> Double

    public init(maxAttempts: Int = 5, baseDelay: TimeInterval = 0.2, maxDelay: TimeInterval = 5,
                sleep: @escaping @Sendable (TimeInterval) async -> Void = RetryPolicy.taskSleep,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.sleep = sleep
        self.random = random
    }

    /// The wait before retry number `retry` (0 for the first retry).
    public func delay(beforeRetry retry: Int) -> TimeInterval {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(min(retry, 30))))
        return ceiling * random()
    }

    public static let taskSleep: @Sendable (TimeInterval) async -> Void = { seconds in
        guard seconds > 0 else { return }
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
    }
}
