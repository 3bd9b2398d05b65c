import Foundation

/// Whether the runner is still going, and sleeps that end early when it stops, so
/// that tests can stop a runner in-process without waiting out every backoff.
public final class Lifetime: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    public init() {}

    public var isStopped: Bool { condition.withLock { stopped } }

    public func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    /// Sleeps `seconds`; false when the runner stopped meanwhile.
    @discardableResult
    public func sleep(_ seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, seconds))
        condition.lock()
        defer { condition.unlock() }
        while !stopped && condition.wait(until: deadline) {}
        return !stopped
    }
}
