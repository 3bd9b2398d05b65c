import Foundation

/// One connection to the state database, SQLite's or Postgres's, as a transaction uses
/// it. A `StateTransaction` writes its SQL once, in the subset both dialects share, with
/// `?` placeholders; the connection translates what must differ (`SQLDialect`).
protocol StateConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement with bound values; returns every row.
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]]
    /// Runs statements with no values and no rows (migrations; several, `;`-separated).
    func execute(_ sql: String) throws
    /// Rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int { get }
}

extension StateConnection {
    @discardableResult
    func query(_ sql: String) throws -> [[SQLValue]] { try query(sql, []) }
}

/// The name the queries were written with, before there were two backends.
typealias SQLiteValue = SQLValue

/// A value bound to or read from a statement, whichever the backend.
enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    var text: String? {
        switch self {
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .null: return nil
        }
    }

    var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .real(let d): return Int64(d)
        case .text(let s): return Int64(s)
        case .null: return nil
        }
    }

    var real: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        case .text(let s): return Double(s)
        case .null: return nil
        }
    }
}

