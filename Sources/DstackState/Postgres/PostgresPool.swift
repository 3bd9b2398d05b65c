import Foundation

/// A small blocking pool of `PostgresStateConnection`s. The state is called
/// synchronously from blocking threads (see `StateStore`), so a borrower waits on a
/// condition rather than awaiting; PostgresClient's pool is async-only.
///
/// Dead connections are found before they cost a borrower a wait: an idle connection
/// whose socket closed (the database restarted or cut it) is dropped at checkout, and
/// the first connection that fails for want of the database takes every idle one with
/// it (they all went to the same server, which is gone or restarted), so the next
/// borrower connects afresh instead of finding the next stale one. Sockets carry TCP
/// keepalive and a user timeout (see `PostgresStateConnection.connect`), so a database
/// that vanishes without closing them is noticed within seconds too. While the database
/// is unreachable, new connections are tried with backoff (0.25 s doubling to 5 s) and
/// borrowers meanwhile fail at once with `StateError.unavailable`.
final class PostgresPool: @unchecked Sendable { // `condition` guards idle, open, retryAt, backoff and lastFailure
    let url: DatabaseURL
    private let capacity: Int
    private let condition = NSCondition()
    private var idle: [PostgresStateConnection] = []
    private var open = 0
    private var nextID = 0
    private var retryAt = Date.distantPast
    private var backoff: TimeInterval = 0
    private var lastFailure = ""
    /// How long a new connection may take to be made, once the server runs.
    static let connectTimeout: TimeInterval = 5
    static let maximumBackoff: TimeInterval = 5

    init(url: DatabaseURL, capacity: Int = 10) {
        self.url = url
        self.capacity = capacity
    }

    /// A connection made at once (for start-up, where any failure is reported as is).
    func connectNow() throws -> PostgresStateConnection {
        let connection = try PostgresStateConnection.connect(url, id: takeID())
        condition.withLock { open += 1 }
        return connection
    }

    func borrow() throws -> PostgresStateConnection {
        condition.lock()
        while true {
            while idle.isEmpty && open >= capacity { condition.wait() }
            guard let connection = idle.popLast() else { break }
            if !connection.isClosed {
                condition.unlock()
                return connection
            }
            // Its socket closed while it sat idle: never hand it out.
            open -= 1
            connection.abandon()
        }
        if Date() < retryAt {
            let reason = lastFailure
            condition.unlock()
            throw StateError.unavailable(location: url.description, reason: reason)
        }
        open += 1
        nextID += 1
        let id = nextID
        condition.unlock()
        do {
            let connection = try PostgresStateConnection.connect(url, id: id, timeout: Self.connectTimeout)
            condition.withLock { backoff = 0; retryAt = .distantPast }
            return connection
        } catch {
            let failure = PostgresFailure(error, url: url)
            condition.withLock {
                open -= 1
                backoff = min(Self.maximumBackoff, max(0.25, backoff * 2))
                retryAt = Date().addingTimeInterval(backoff)
                lastFailure = failure.description
                condition.signal()
            }
            if !failure.meansUnavailable { throw StateError.failed(path: url.description, reason: failure.description) }
            throw StateError.unavailable(location: url.description, reason: failure.description)
        }
    }

    func giveBack(_ connection: PostgresStateConnection) {
        guard connection.isClosed else {
            condition.withLock {
                idle.append(connection)
                condition.signal()
            }
            return
        }
        // Failed for want of the database: the idle ones went to the same server.
        let stale: [PostgresStateConnection] = condition.withLock {
            let dropped = connection.broken ? idle : idle.filter(\.isClosed)
            idle.removeAll { candidate in dropped.contains { $0 === candidate } }
            open -= 1 + dropped.count
            condition.broadcast()
            return dropped
        }
        connection.abandon()
        stale.forEach { $0.abandon() }
    }

    /// Closes every idle connection (borrowed ones close when given back broken).
    func shutdown() {
        let connections = condition.withLock {
            defer { idle.removeAll(); open = 0 }
            return idle
        }
        connections.forEach { $0.close() }
    }

    private func takeID() -> Int {
        condition.withLock {
            nextID += 1
            return nextID
        }
    }
}
