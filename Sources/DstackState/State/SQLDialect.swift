import Foundation

/// The two SQL dialects the state speaks. Queries and migrations are written once, in
/// what SQLite and PostgreSQL share (`?` placeholders; the column types TEXT, INTEGER
/// and REAL; `ON CONFLICT`, `RETURNING`, `IS DISTINCT FROM`); `postgres(_:)` translates
/// the few spellings that differ. Where a statement cannot be shared, the caller picks
/// a text by `dialect` (see CONTRIBUTING, "Two state backends").
enum SQLDialect: Sendable {
    case sqlite, postgres

    /// A query's text for Postgres: `?` becomes `$1`, `$2`, ... (never inside a quoted
    /// string or identifier).
    static func postgresPlaceholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.count + 16)
        var quote: Character?
        var next = 1
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                out += "$\(next)"
                next += 1
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// A migration's DDL for Postgres: SQLite's INTEGER is 64 bits (Postgres's BIGINT)
    /// and its REAL is a double (Postgres's REAL is 32 bits).
    static func postgresDDL(_ sql: String) -> String {
        var text = sql
        for (from, to) in [("INTEGER", "BIGINT"), ("REAL", "DOUBLE PRECISION")] {
            text = text.replacingOccurrences(of: "\\b\(from)\\b", with: to, options: .regularExpression)
        }
        return text
    }

    /// Splits a migration into its statements (Postgres's extended protocol runs one at a
    /// time). Migrations hold no `;` inside a string.
    static func statements(_ sql: String) -> [String] {
        sql.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
