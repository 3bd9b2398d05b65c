import Foundation

/// Wakes tasks waiting on a key (an instance ID, or the reconcile loop) at once, or lets
/// them go after a timeout. Each waiter is resumed exactly once.
public final class WakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var waiters: [String: [UUID: CheckedContinuation<Bool, Never>]] = [:]
    private var pending: Set<String> = []
    /// Once closed, waits on every key but these return at once.
    private var closed = false
    private var stillWaitable: Set<String> = []

    public init() {}

    /// Told every key notified here, so other servers sharing the state hear it too
    /// (`ReplicaCoordination.publish`). Set before the server starts.
    public var relay: (@Sendable (String) -> Void)?

    /// A key another server notified: wakes waiters here without relaying it back.
    public func notifyFromElsewhere(_ key: String) {
        wakeHere(key)
    }

    /// Wakes every waiter, and makes every later wait return at once, except on `keys`:
    /// a server shutting down lets its long polls go.
    public func close(except keys: Set<String> = []) {
        let woken: [CheckedContinuation<Bool, Never>] = lock.withLock {
            closed = true
            stillWaitable = keys
            var woken: [CheckedContinuation<Bool, Never>] = []
            for key in waiters.keys where !keys.contains(key) {
                woken += waiters.removeValue(forKey: key).map { Array($0.values) } ?? []
            }
            return woken
        }
        woken.forEach { $0.resume(returning: true) }
    }

    /// Wakes every waiter on `key`; with none waiting, the next `wait` returns at once.
    public func notify(_ key: String) {
        wakeHere(key)
        relay?(key)
    }

    private func wakeHere(_ key: String) {
        let woken: [CheckedContinuation<Bool, Never>] = lock.withLock {
            guard let list = waiters.removeValue(forKey: key), !list.isEmpty else {
                pending.insert(key)
                return []
            }
            return Array(list.values)
        }
        woken.forEach { $0.resume(returning: true) }
    }

    /// Waits until `notify(key)` or the timeout. Returns true when notified.
    public func wait(_ key: String, timeout: TimeInterval) async -> Bool {
        if lock.withLock({ pending.remove(key) != nil || (closed && !stillWaitable.contains(key)) }) { return true }
        let id = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1_000_000_000))
            self?.expire(key, id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let alreadyNotified: Bool = lock.withLock {
                if pending.remove(key) != nil || (closed && !stillWaitable.contains(key)) { return true }
                waiters[key, default: [:]][id] = continuation
                return false
            }
            if alreadyNotified { continuation.resume(returning: true) }
        }
    }

    private func expire(_ key: String, _ id: UUID) {
        let continuation: CheckedContinuation<Bool, Never>? = lock.withLock {
            let found = waiters[key]?.removeValue(forKey: id)
            if waiters[key]?.isEmpty == true { waiters[key] = nil }
            return found
        }
        continuation?.resume(returning: false)
    }
}

/// Runs the reconciler whenever something wakes it, and on a timer for what nothing
/// announces (spot requests fulfilled, instances vanishing).
// @unchecked: `stopping` is guarded by `stopLock`; `interval` and `onPass` are set before `run()` starts.
public final class ReconcileLoop: @unchecked Sendable {
    public static let wakeKey = "reconcile"
    public let reconciler: Reconciler
    public let signal: WakeSignal
    public var interval: TimeInterval
    /// Each pass's report, for the server's log.
    public var onPass: (@Sendable (Result<Reconciler.Report, Error>) -> Void)?
    /// Whether this server leads the servers sharing its state: only the leader's loop
    /// reconciles (set before `run()`; always true for a server of its own).
    public var isLeader: @Sendable () -> Bool = { true }

    public init(reconciler: Reconciler, signal: WakeSignal, interval: TimeInterval) {
        self.reconciler = reconciler
        self.signal = signal
        self.interval = interval
    }

    private let stopLock = NSLock()
    private var stopping = false

    public func wake() { signal.notify(Self.wakeKey) }

    /// Ends the loop after the pass in flight, if any: that pass is not interrupted, so
    /// its journaled cloud calls complete and are recorded.
    public func stop() {
        stopLock.withLock { stopping = true }
        wake()
    }

    private var isStopping: Bool { stopLock.withLock { stopping } }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }

    /// Loops until `stop()` (after the pass in flight) or until the task is cancelled.
    public func run() async {
        while !Task.isCancelled, !isStopping {
            guard isLeader() else {
                _ = await signal.wait(Self.wakeKey, timeout: interval)
                continue
            }
            let started = ContinuousClock.now
            let result: Result<Reconciler.Report, Error>
            do {
                result = .success(try await reconciler.reconcile())
            } catch {
                result = .failure(error)
            }
            onPass?(result)
            // A burst of submissions wakes the loop many times a pass, so the next pass
            // would start at once, again and again, each reading the whole queue: on a
            // long queue the passes would take a core from the API that stores the runs.
            // The loop first rests as long as this pass took (never past the interval):
            // passes take at most about half the time, and a woken pass starts at most
            // one pass's duration later.
            let rest = min(Self.seconds(ContinuousClock.now - started), interval)
            if rest > 0 { try? await Task.sleep(nanoseconds: UInt64(rest * 1e9)) }
            _ = await signal.wait(Self.wakeKey, timeout: interval - rest)
        }
    }
}
