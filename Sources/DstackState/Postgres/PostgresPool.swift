import Foundation

/// A small blocking pool of `PostgresStateConnection`s. The state is called
/// synchronously from blocking threads (see `StateStore`), so a borrower waits on a
/// condition rather than awaiting; PostgresClient's pool is async-only. A connection
/// that failed is closed, not returned; while the database is unreachable, new
/// connections are tried with backoff (0.25 s doubling to 5 s) and borrowers meanwhile
/// fail at once with `StateError.unavailable`.
final class PostgresPool: @unchecked Sendable { // `condition` guards idle, open, retryAt and backoff
    let url: DatabaseURL
    private let capacity: Int
    private let condition = NSCondition()
    private var idle: [PostgresStateConnection] = []
    private var open = 0
    private var nextID = 0
    private var retryAt = Date.distantPast
    private var backoff: TimeInterval = 0
    private var lastFailure = ""

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
        while idle.isEmpty && open >= capacity { condition.wait() }
        if let connection = idle.popLast() {
            condition.unlock()
            return connection
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
            let connection = try PostgresStateConnection.connect(url, id: id)
            condition.withLock { backoff = 0; retryAt = .distantPast }
            return connection
        } catch {
            condition.withLock {
                open -= 1
                backoff = min(5, max(0.25, backoff * 2))
                retryAt = Date().addingTimeInterval(backoff)
                lastFailure = "\(error)"
                condition.signal()
            }
            if let failure = error as? PostgresFailure, !failure.meansUnavailable {
                throw StateError.failed(path: url.description, reason: failure.description)
            }
            throw StateError.unavailable(location: url.description, reason: "\(error)")
        }
    }

    func giveBack(_ connection: PostgresStateConnection) {
        if connection.isClosed {
            connection.close()
            condition.withLock {
                open -= 1
                condition.signal()
            }
            return
        }
        condition.withLock {
            idle.append(connection)
            condition.signal()
        }
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
