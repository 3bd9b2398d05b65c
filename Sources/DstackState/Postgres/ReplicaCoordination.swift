import DstackWire
import Foundation
import Logging
import PostgresNIO

/// What several servers sharing one Postgres database agree on through it: which one
/// leads (reconciles on its timer), and wake-ups that cross servers. With SQLite (one
/// server per home) this server always leads and wake-ups stay in the process.
///
/// The lease is a session-level advisory lock held on a connection of its own: Postgres
/// drops it the moment that session ends (the server exits, is killed, or loses the
/// database), and another server's next try (every `renewInterval`) takes it. The same
/// connection `LISTEN`s on `dstack_wake`; `publish` sends `pg_notify` from a pool
/// connection, on a queue of its own, so a caller never waits on the network.
public final class ReplicaCoordination: @unchecked Sendable { // `lock` guards leading, connection, listener, stopped, unsent
    public static let leaderLockKey: Int64 = 0x6473_7461_636c
    public static let wakeChannel = "dstack_wake"
    /// This server's identity in notifications (it ignores its own).
    public let replicaID = SecureRandom.hex(6)
    public let renewInterval: TimeInterval
    private let url: DatabaseURL?
    private let pool: PostgresPool?
    private let lock = NSLock()
    private var leading: Bool
    private var connection: PostgresStateConnection?
    private var stopped = false
    private let publishQueue = DispatchQueue(label: "dstack.state.notify")
    private var onLeadership: (@Sendable (Bool) -> Void)?
    private var onWake: (@Sendable (String) -> Void)?
    /// Keys queued to publish and not yet sent: a key already waiting is not queued again.
    private var unsent: Set<String> = []

    init(url: DatabaseURL?, pool: PostgresPool?, renewInterval: TimeInterval) {
        self.url = url
        self.pool = pool
        self.renewInterval = renewInterval
        leading = url == nil
    }

    /// Whether this server leads now.
    public var isLeader: Bool { lock.withLock { leading } }

    /// Whether other servers may share the state.
    public var isShared: Bool { url != nil }

    /// Starts trying for the lease and listening. `leadership` is told each change;
    /// `wake` each key another server published.
    public func start(leadership: @escaping @Sendable (Bool) -> Void, wake: @escaping @Sendable (String) -> Void) {
        lock.withLock {
            onLeadership = leadership
            onWake = wake
        }
        guard url != nil else { return leadership(true) }
        let thread = Thread { [weak self] in
            while let self, !self.lock.withLock({ self.stopped }) {
                self.tick()
                Thread.sleep(forTimeInterval: self.renewInterval)
            }
        }
        thread.name = "dstack-leader-lease"
        thread.start()
    }

    /// Gives up the lease (closing its session) and stops listening.
    public func stop() {
        let connection: PostgresStateConnection? = lock.withLock {
            stopped = true
            defer { self.connection = nil; leading = url == nil }
            return self.connection
        }
        connection?.close()
    }

    /// Tells every other server `key` (a run submitted: the leader's loop; a run
    /// assigned: the instance's long poll). Never blocks. A wake-up says "look again",
    /// so a key published while the same key still waits in the queue rides on that
    /// one, which is sent after it (under a burst of submissions, one NOTIFY for many).
    public func publish(_ key: String) {
        guard let pool else { return }
        guard lock.withLock({ unsent.insert(key).inserted }) else { return }
        let payload = replicaID + "|" + key
        publishQueue.async { [weak self] in
            // Out of the queue before it is sent: a publish from here on queues anew.
            if let self { self.lock.withLock { _ = self.unsent.remove(key) } }
            guard let db = try? pool.borrow() else { return }
            defer { pool.giveBack(db) }
            _ = try? db.query("SELECT pg_notify(?, ?)", [.text(Self.wakeChannel), .text(payload)])
        }
    }

    /// One renewal: (re)connect when needed, try for the lock when not leading, check
    /// the session when leading.
    private func tick() {
        guard let url else { return }
        do {
            let db: PostgresStateConnection
            if let existing = lock.withLock({ connection }), !existing.isClosed {
                db = existing
            } else {
                setLeading(false)
                db = try PostgresStateConnection.connect(url, id: Int.random(in: 1_000_000...9_999_999), timeout: 3)
                let replicaID = self.replicaID
                db.connection.addListener(channel: Self.wakeChannel) { [weak self] _, notification in
                    let parts = notification.payload.split(separator: "|", maxSplits: 1).map(String.init)
                    guard parts.count == 2, parts[0] != replicaID else { return }
                    self?.lock.withLock { self?.onWake }?(parts[1])
                }
                lock.withLock { connection = db } // closed by the catch below if LISTEN fails
                try db.query("LISTEN \(Self.wakeChannel)", [])
            }
            if isLeader {
                try db.query("SELECT 1", [])
            } else {
                let won = try db.query("SELECT pg_try_advisory_lock(?)", [.integer(Self.leaderLockKey)]).first?.first?.integer == 1
                if won { setLeading(true) }
            }
        } catch {
            let lost = lock.withLock {
                defer { connection = nil }
                return connection
            }
            lost?.close()
            setLeading(false)
        }
    }

    private func setLeading(_ now: Bool) {
        let changed: (@Sendable (Bool) -> Void)? = lock.withLock {
            guard leading != now else { return nil }
            leading = now
            return onLeadership
        }
        changed?(now)
    }
}

extension StateStore {
    /// This server's part among the servers that share the state (see
    /// `ReplicaCoordination`); `renewInterval`: how often a follower tries for the lease.
    public func coordination(renewInterval: TimeInterval = 2) -> ReplicaCoordination {
        ReplicaCoordination(url: postgresPool?.url, pool: postgresPool, renewInterval: renewInterval)
    }

    /// Runs `body` while no other server runs a reconcile pass (a session-level advisory
    /// lock held on a pool connection for its duration). With SQLite, just `body`: one
    /// server per home. Call from a blocking thread: taking the lock waits.
    public func exclusivePass<T>(_ body: () async throws -> T) async throws -> T {
        guard let pool = postgresPool else { return try await body() }
        let db = try pool.borrow()
        defer { pool.giveBack(db) }
        do {
            try db.query("SELECT pg_advisory_lock(?)", [.integer(Self.passLockKey)])
        } catch let failure as PostgresFailure {
            throw StateError.unavailable(location: pool.url.description, reason: failure.description)
        }
        defer { _ = try? db.query("SELECT pg_advisory_unlock(?)", [.integer(Self.passLockKey)]) }
        return try await body()
    }

    static let passLockKey: Int64 = 0x6473_7461_6370
}
