import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// The state: SQLite in `DSTACK_HOME/state.db` (the default), or a Postgres database
/// (`--database-url`). Both backends run the same queries and migrations
/// (`StateTransaction`, `Migrations`); only how a transaction begins, and how the schema
/// version is kept, differ.
///
/// SQLite: WAL mode; every change is one `BEGIN IMMEDIATE` transaction, so concurrent
/// dstack processes serialise their read-modify-write cycles and never lose an update.
/// Reads go through a second, read-only connection and run beside the writer.
/// Postgres: every change takes one transaction-level advisory lock first, so writers on
/// every replica serialise as SQLite's do; reads are REPEATABLE READ, READ ONLY, on any
/// pooled connection. Two kinds of change skip that lock on Postgres, because no other
/// writer can change what they do: `insert` (new rows under fresh keys, such as a run
/// submitted) and a `statement` that writes (one statement, atomic by itself); on SQLite
/// both still go through its one writer. A database out of reach is `StateError.unavailable` (the API
/// answers 503) and is retried with backoff.
///
/// Postgres blocks the calling thread on the network: call state from blocking threads
/// (the server's `BlockingWork`/`BlockingExecutor`), never from an event loop.
public final class StateStore: @unchecked Sendable { // the backend guards its own connections
    /// The SQLite file's path, or the database URL with its password masked.
    public let path: String
    private let backend: any StateBackend

    public convenience init(home: DstackHome) throws {
        try home.prepare()
        try self.init(path: home.stateFile.path)
    }

    /// The home's state: Postgres when `databaseURL` is given, else the home's state.db.
    public convenience init(home: DstackHome, databaseURL: DatabaseURL?) throws {
        if let databaseURL {
            try self.init(databaseURL: databaseURL)
        } else {
            try self.init(home: home)
        }
    }

    public init(path: String) throws {
        self.path = path
        backend = try SQLiteBackend(path: path)
        try migrate()
    }

    /// Connects to Postgres and migrates it (once, however many servers start together).
    public init(databaseURL: DatabaseURL, poolSize: Int = 10) throws {
        path = databaseURL.description
        backend = try PostgresBackend(url: databaseURL, poolSize: poolSize)
        try migrate()
    }

    /// The schema version this dstack writes (its newest migration).
    public static var schemaVersion: Int { Migrations.latestVersion }

    /// The Postgres backend's pool; nil on SQLite.
    var postgresPool: PostgresPool? { (backend as? PostgresBackend)?.pool }

    /// Which backend this is: `sqlite` or `postgres`.
    public var backendName: String { backend.dialect == .sqlite ? "sqlite" : "postgres" }

    /// A read-only view of state, consistent for the whole closure.
    public func read<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try backend.transaction(.read) { try body(StateTransaction(db: $0)) }
    }

    /// One atomic change. Other writers wait rather than interleave.
    public func write<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try backend.transaction(.write) { try body(StateTransaction(db: $0)) }
    }

    /// One atomic change that only adds rows under keys nobody else can hold yet (a run
    /// just submitted and what belongs to it) and decides nothing on what it reads. On
    /// Postgres it runs beside other writers instead of queueing on the write lock
    /// behind the leader's passes and every replica's writes; SQLite keeps one writer.
    public func insert<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try backend.transaction(.insert) { try body(StateTransaction(db: $0)) }
    }

    /// `body` sends exactly one statement, which is a transaction by itself: atomic, and
    /// a read sees one snapshot. On Postgres that is one round trip instead of three
    /// (no BEGIN, no COMMIT) and, for a write, no write lock: write here only what is
    /// safe beside any other writer, such as an insert under a fresh key. A second
    /// statement is a programming error (it stops the process).
    public func statement<T>(writing: Bool = false, _ body: (StateTransaction) throws -> T) throws -> T {
        try backend.statement(writing: writing) { try body(StateTransaction(db: $0)) }
    }

    /// Whether the database answers now (for `GET /api/v1/health`).
    public func isReachable() -> Bool {
        (try? statement { try $0.db.query("SELECT 1") }) != nil
    }

    private func migrate() throws {
        try write { tx in
            let version = try backend.schemaVersion(tx.db)
            if version > Migrations.latestVersion {
                throw StateError.tooNew(path: path, version: version, supported: Migrations.latestVersion)
            }
            for step in version..<Migrations.latestVersion {
                try tx.db.execute(Migrations.text(step, for: backend.dialect))
                if step == 0 {
                    try tx.db.query("INSERT INTO meta(key, value) VALUES (?, ?), ('enabled', '1')",
                                    [.text("installation_id"), .text(SecureRandom.hex(8))])
                }
            }
            if version != Migrations.latestVersion {
                try backend.setSchemaVersion(Migrations.latestVersion, tx.db)
            }
        }
    }
}

public enum StateError: Error, Equatable, CustomStringConvertible {
    case corrupt(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case tooNew(path: String, version: Int, supported: Int)
    case failed(path: String, reason: String)
    /// The database is out of reach for now (Postgres down, network gone): retry later.
    case unavailable(location: String, reason: String)
    /// A value dstack did not write: never read as a default.
    case badValue(table: String, row: String, column: String, detail: String)

    static func from(_ error: SQLiteError, path: String) -> StateError {
        if error.meansCorrupt { return .corrupt(path: path, reason: error.message) }
        switch error.code & 0xff {
        case 14 /* SQLITE_CANTOPEN */, 8 /* SQLITE_READONLY */, 23 /* SQLITE_AUTH */, 10 /* SQLITE_IOERR */:
            return .unreadable(path: path, reason: error.message)
        default:
            return .failed(path: path, reason: error.message)
        }
    }

    public var description: String {
        switch self {
        case .corrupt(let path, let reason):
            return "the state database \(path) is corrupt (\(reason)); move it aside to start afresh (dstack will not overwrite it)"
        case .unreadable(let path, let reason):
            return "cannot open the state database \(path): \(reason)"
        case .tooNew(let path, let version, let supported):
            return "the state database \(path) has schema version \(version), newer than this dstack understands (\(supported)); upgrade dstack"
        case .failed(let path, let reason):
            return "the state database \(path) failed: \(reason)"
        case .unavailable(let location, let reason):
            return "the state database \(location) is unreachable for now (\(reason)); try again shortly"
        case .badValue(let table, let row, let column, let detail):
            return "the state database holds a \(table) row (\(row)) whose \(column) dstack cannot read (\(detail)); it was not written by this dstack"
        }
    }
}
