import DstackWire
import Foundation

/// How one backend opens transactions and keeps the schema version; `StateStore` does
/// the rest the same way for both.
protocol StateBackend: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction of that kind: committed when it returns, rolled
    /// back when it throws.
    func transaction<T>(_ kind: TransactionKind, _ body: (any StateConnection) throws -> T) throws -> T
    /// Runs `body`, which sends at most one statement, as a transaction of its own (a
    /// statement is atomic and reads one snapshot by itself): on Postgres no BEGIN and
    /// COMMIT round trips and no write lock. A second statement is a programming error.
    func statement<T>(writing: Bool, _ body: (any StateConnection) throws -> T) throws -> T
    /// The schema version the database is at (0: empty). Called inside a write.
    func schemaVersion(_ db: any StateConnection) throws -> Int
    func setSchemaVersion(_ version: Int, _ db: any StateConnection) throws
}

/// What a transaction may do, and so what it waits for.
enum TransactionKind: Sendable {
    /// A consistent read-only view.
    case read
    /// A change that serialises with every other `write` (SQLite's one writer; on
    /// Postgres, the write lock every replica's writers take), as read-modify-write
    /// cycles must.
    case write
    /// A change that only adds rows under keys nobody else can hold yet, and reads
    /// nothing it decides on: no other writer can change what it does. SQLite keeps its
    /// one writer; Postgres runs it beside other writers, without the write lock.
    case insert
}

/// state.db: a writer connection and a read-only one, each behind its own lock.
final class SQLiteBackend: StateBackend, @unchecked Sendable { // `lock` guards `db`, `readLock` guards `reader`
    let dialect = SQLDialect.sqlite
    private let path: String
    private let db: SQLiteDatabase
    private let lock = NSLock()
    private let reader: SQLiteDatabase
    private let readLock = NSLock()

    init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StateError.unreadable(path: path, reason: "it is a directory")
        }
        do {
            db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA journal_mode = WAL")
            try db.execute("PRAGMA foreign_keys = ON")
            try db.execute("PRAGMA synchronous = NORMAL")
            reader = try SQLiteDatabase(path: path, readOnly: true)
        } catch let error as SQLiteError {
            throw StateError.from(error, path: path)
        }
    }

    func transaction<T>(_ kind: TransactionKind, _ body: (any StateConnection) throws -> T) throws -> T {
        let writing = kind != .read
        let (db, lock) = writing ? (db, lock) : (reader, readLock)
        // One transaction at a time per connection: the server calls in from many tasks.
        lock.lock()
        defer { lock.unlock() }
        do {
            try db.query(writing ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        } catch let error as SQLiteError {
            throw StateError.from(error, path: path)
        }
        do {
            let result = try body(db)
            try db.query("COMMIT")
            return result
        } catch {
            try? db.execute("ROLLBACK")
            if let sqlite = error as? SQLiteError { throw StateError.from(sqlite, path: path) }
            throw error
        }
    }

    /// Calls into the library cost no round trip: SQLite's statement is simply a
    /// transaction of its usual kind (a write still goes through the one writer).
    func statement<T>(writing: Bool, _ body: (any StateConnection) throws -> T) throws -> T {
        try transaction(writing ? .write : .read) { try body(SingleStatementConnection($0)) }
    }

    func schemaVersion(_ db: any StateConnection) throws -> Int {
        Int(try db.query("PRAGMA user_version").first?.first?.integer ?? 0)
    }

    func setSchemaVersion(_ version: Int, _ db: any StateConnection) throws {
        try db.execute("PRAGMA user_version = \(version)")
    }
}

/// A Postgres database through a pool of PostgresNIO connections.
final class PostgresBackend: StateBackend, @unchecked Sendable { // immutable; the pool guards its connections
    let dialect = SQLDialect.postgres
    let pool: PostgresPool
    /// The advisory lock every write takes first: writers on all replicas serialise on it
    /// as SQLite's `BEGIN IMMEDIATE` writers do (and two servers starting together
    /// migrate once). 'dstack' in ASCII.
    static let writeLockKey: Int64 = 0x6473_7461_636b

    init(url: DatabaseURL, poolSize: Int) throws {
        pool = PostgresPool(url: url, capacity: poolSize)
        // The first connection now, so a bad password or an unreachable database is the
        // start's one-sentence error rather than the first request's.
        let first: PostgresStateConnection
        do {
            first = try pool.connectNow()
        } catch let failure as PostgresFailure {
            throw StateError.failed(path: url.description, reason: failure.description)
        }
        pool.giveBack(first)
    }

    deinit { pool.shutdown() }

    func transaction<T>(_ kind: TransactionKind, _ body: (any StateConnection) throws -> T) throws -> T {
        let db = try pool.borrow()
        defer { pool.giveBack(db) }
        do {
            switch kind {
            case .write:
                try db.query("BEGIN")
                try db.query("SELECT pg_advisory_xact_lock(?)", [.integer(Self.writeLockKey)])
            case .insert:
                // READ COMMITTED, no write lock: new rows under fresh keys conflict with
                // nothing (a key taken meanwhile waits for its writer, then fails or
                // does nothing), and no statement of the others touches rows not yet made.
                try db.query("BEGIN")
            case .read:
                try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            }
        } catch {
            throw translate(error)
        }
        do {
            let result = try body(db)
            try db.query("COMMIT")
            return result
        } catch {
            if !db.isClosed { _ = try? db.query("ROLLBACK") }
            throw translate(error)
        }
    }

    /// One round trip: the statement commits on its own (autocommit), and a read sees
    /// one snapshot. A write here takes no write lock: only for a statement that is
    /// safe beside any other writer (an insert under a fresh key).
    func statement<T>(writing: Bool, _ body: (any StateConnection) throws -> T) throws -> T {
        let db = try pool.borrow()
        defer { pool.giveBack(db) }
        do {
            return try body(SingleStatementConnection(db))
        } catch {
            throw translate(error)
        }
    }

    private func translate(_ error: any Error) -> any Error {
        guard let failure = error as? PostgresFailure else { return error }
        if failure.meansUnavailable { return StateError.unavailable(location: pool.url.description, reason: failure.description) }
        return StateError.failed(path: pool.url.description, reason: failure.description)
    }

    func schemaVersion(_ db: any StateConnection) throws -> Int {
        try db.query("CREATE TABLE IF NOT EXISTS dstack_schema (version BIGINT NOT NULL)")
        return Int(try db.query("SELECT version FROM dstack_schema").first?.first?.integer ?? 0)
    }

    func setSchemaVersion(_ version: Int, _ db: any StateConnection) throws {
        try db.query("DELETE FROM dstack_schema")
        try db.query("INSERT INTO dstack_schema(version) VALUES (?)", [.integer(Int64(version))])
    }
}

/// A connection that lets one statement through (`StateBackend.statement`): a second
/// would run in a transaction of its own, no longer atomic with the first.
final class SingleStatementConnection: StateConnection {
    private let db: any StateConnection
    private var sent = false

    init(_ db: any StateConnection) {
        self.db = db
    }

    var dialect: SQLDialect { db.dialect }
    var changes: Int { db.changes }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        precondition(!sent, "a single-statement transaction sent a second statement: \(sql.prefix(80))")
        sent = true
        return try db.query(sql, values)
    }

    func execute(_ sql: String) throws {
        try query(sql, [])
    }
}
