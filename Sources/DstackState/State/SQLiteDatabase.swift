import CSQLite
import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// A thin, synchronous wrapper over one SQLite connection. Not shared between threads.
final class SQLiteDatabase: StateConnection {
    let dialect = SQLDialect.sqlite

    private(set) var handle: OpaquePointer?
    let path: String

    /// SQLITE_TRANSIENT: SQLite copies bound text before the Swift buffer goes away.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// `readOnly`: a connection that can only read (a write through it fails loudly).
    init(path: String, readOnly: Bool = false) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close(db)
            throw SQLiteError(code: code, message: message)
        }
        handle = db
        // Writers from other processes wait instead of failing at once.
        sqlite3_busy_timeout(db, 15_000)
    }

    /// Prepared statements by their SQL, reused across calls: preparing costs more than
    /// running most of these statements, and the server runs the same few thousands of
    /// times a second under load. Bounded, since a few statements are built per call.
    private var statements: [String: OpaquePointer] = [:]
    private static let statementCacheLimit = 200

    deinit {
        statements.values.forEach { sqlite3_finalize($0) }
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: code, message: message)
        }
    }

    /// Runs a statement with bound values; returns every row as text-or-nil columns.
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        let statement = try prepared(sql)
        // Reset at once: a statement left mid-way would hold its read open.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var code: Int32 = SQLITE_OK
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .null: code = sqlite3_bind_null(statement, position)
            case .integer(let i): code = sqlite3_bind_int64(statement, position, i)
            case .real(let d): code = sqlite3_bind_double(statement, position, d)
            case .text(let s): code = sqlite3_bind_text(statement, position, s, -1, Self.transient)
            }
            guard code == SQLITE_OK else { throw lastError(code) }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw lastError(code) }
            let columns = sqlite3_column_count(statement)
            rows.append((0..<columns).map { column in
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
                case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
                case SQLITE_NULL: return .null
                default: return .text(String(cString: sqlite3_column_text(statement, column)))
                }
            })
        }
        return rows
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw lastError(code)
        }
        if statements.count >= Self.statementCacheLimit {
            statements.values.forEach { sqlite3_finalize($0) }
            statements.removeAll()
        }
        statements[sql] = statement
        return statement
    }

    private func lastError(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}

struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { message }

    /// The file exists but is not a database we can read (garbage, truncated, encrypted).
    var meansCorrupt: Bool {
        let primary = code & 0xff
        return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT
    }
}
