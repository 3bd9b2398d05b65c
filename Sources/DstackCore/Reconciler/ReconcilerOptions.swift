import Foundation

/// The server's tunables, as `dstack server` takes them.
public struct ReconcilerOptions: Sendable, Equatable {
    /// Idle instances are terminated after this long without work.
    public var idleTimeout: TimeInterval = 300
    /// A run whose instance vanishes is retried this many times.
    public var maxRetries: Int = 2
    /// How old an instance the cloud lists, that state does not know, must be before it
    /// is swept (a launch whose state write is still in flight is younger than this).
    public var sweepGrace: TimeInterval = 120
    /// A launch batch whose runners have not all registered by then is given up:
    /// its spot requests are cancelled and its unregistered instances terminated.
    public var provisioningTimeout: TimeInterval = 900
    /// A registered runner silent this long (no heartbeat, poll or log) is taken for dead
    /// even if its machine still runs: the instance is terminated and its run retried.
    /// Runners heartbeat every 5 s.
    public var heartbeatTimeout: TimeInterval = 120
    /// A type that reported no spot capacity is skipped this long.
    public var capacityCooldown: TimeInterval = 180
    /// A run whose launches closed this many times without its runner registering
    /// (provisioning timeout, or the instances gone first) fails instead of launching again.
    public var maxProvisioningAttempts: Int = 3
    /// A spot request the cloud holds unfulfilled with a status that may change (no
    /// capacity, not scheduled yet) is cancelled after this long, and the next zone or
    /// type is tried; one that cannot change (price too low) is cancelled at once.
    public var fulfillmentTimeout: TimeInterval = 120
    /// How instances reach the server and get the runner; it goes into their user data.
    public var delivery = RunnerDelivery()
    /// The URL the runners reach the server at.
    public var advertiseURL: String {
        get { delivery.advertiseURL }
        set { delivery.advertiseURL = newValue }
    }

    public init() {}
}
