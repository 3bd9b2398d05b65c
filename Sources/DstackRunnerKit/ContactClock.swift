import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// When the server last answered. Monotonic: a fresh instance's clock often jumps when
/// NTP first syncs, and a wall clock would then power the machine off for nothing.
public final class ContactClock: @unchecked Sendable {
    private let lock = NSLock()
    private var last: TimeInterval

    /// Starts as if contact had just happened: the runner gets the full timeout to
    /// reach the server the first time.
    public init() { last = ContactClock.now() }

    public func recordContact() {
        let now = ContactClock.now()
        lock.withLock { last = now }
    }

    public var secondsSinceContact: TimeInterval {
        let now = ContactClock.now()
        return lock.withLock { now - last }
    }

    public static func now() -> TimeInterval {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return TimeInterval(spec.tv_sec) + TimeInterval(spec.tv_nsec) / 1e9
    }
}
