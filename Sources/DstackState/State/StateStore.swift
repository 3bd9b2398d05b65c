import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// state.db: SQLite in WAL mode. Every change is one `BEGIN IMMEDIATE` transaction, so
/// concurrent dstack processes serialise their read-modify-write cycles and never lose
/// an update. A file that is not a readable database is reported and never touched.
/// Reads go through a second, read-only connection: in WAL mode they run beside the
/// writer instead of queueing behind it (a server's runners mostly read).
public final class StateStore: @unchecked Sendable { // `lock` guards `db`, `readLock` guards `reader`
    public let path: String
    private let db: SQLiteDatabase
    private let lock = NSLock()
    private let reader: SQLiteDatabase
    private let readLock = NSLock()

    public convenience init(home: DstackHome) throws {
        try home.prepare()
        try self.init(path: home.stateFile.path)
    }

    public init(path: String) throws {
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
        try migrate()
    }

    /// A read-only view of state, consistent for the whole closure.
    public func read<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try transaction("BEGIN DEFERRED", on: reader, lock: readLock, body)
    }

    /// One atomic change. Other writers wait (up to 15 s) rather than interleave.
    public func write<T>(_ body: (StateTransaction) throws -> T) throws -> T {
        try transaction("BEGIN IMMEDIATE", on: db, lock: lock, body)
    }

    private func transaction<T>(_ begin: String, on db: SQLiteDatabase, lock: NSLock,
                                _ body: (StateTransaction) throws -> T) throws -> T {
        // One transaction at a time per connection: the server calls in from many tasks.
        lock.lock()
        defer { lock.unlock() }
        do {
            try db.query(begin)
        } catch let error as SQLiteError {
            throw StateError.from(error, path: path)
        }
        do {
            let result = try body(StateTransaction(db: db))
            try db.query("COMMIT")
            return result
        } catch {
            try? db.execute("ROLLBACK")
            if let sqlite = error as? SQLiteError { throw StateError.from(sqlite, path: path) }
            throw error
        }
    }

    private func migrate() throws {
        try write { tx in
            let version = Int(try tx.db.query("PRAGMA user_version").first?.first?.integer ?? 0)
            if version > Migrations.latestVersion {
                throw StateError.tooNew(path: path, version: version, supported: Migrations.latestVersion)
            }
            for step in version..<Migrations.latestVersion {
                try tx.db.execute(Migrations.all[step])
                if step == 0 {
                    try tx.db.query("INSERT INTO meta(key, value) VALUES ('installation_id', ?), ('enabled', '1')",
                                    [.text(SecureRandom.hex(8))])
                }
            }
            if version != Migrations.latestVersion {
                try tx.db.execute("PRAGMA user_version = \(Migrations.latestVersion)")
            }
        }
    }
}

public enum StateError: Error, Equatable, CustomStringConvertible {
    case corrupt(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case tooNew(path: String, version: Int, supported: Int)
    case failed(path: String, reason: String)
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
        case .badValue(let table, let row, let column, let detail):
            return "the state database holds a \(table) row (\(row)) whose \(column) dstack cannot read (\(detail)); it was not written by this dstack"
        }
    }
}
