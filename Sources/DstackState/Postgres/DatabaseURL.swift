import Foundation

/// `postgresql://USER:PASS@HOST:PORT/DB` (or `postgres://`), as `--database-url` and
/// `DSTACK_DATABASE_URL` give it. Its description never shows the password.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String

    public init(user: String, password: String?, host: String, port: Int, database: String) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
    }

    /// Parses a URL; the error is one sentence that shows no password.
    public init(parsing text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw DatabaseURLError.malformed
        }
        guard scheme == "postgresql" || scheme == "postgres" else { throw DatabaseURLError.scheme(scheme) }
        guard let host = components.host, !host.isEmpty else { throw DatabaseURLError.missing("host") }
        guard let user = components.user, !user.isEmpty else { throw DatabaseURLError.missing("user name") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw DatabaseURLError.missing("database name") }
        if let port = components.port, !(1...65535).contains(port) { throw DatabaseURLError.port }
        if let query = components.query, !query.isEmpty { throw DatabaseURLError.options }
        self.init(user: components.user?.removingPercentEncoding ?? user, password: components.password?.removingPercentEncoding,
                  host: host, port: components.port ?? 5432, database: database.removingPercentEncoding ?? database)
    }

    /// Whether `text` names a Postgres database rather than a SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgresql:") || lower.hasPrefix("postgres:")
    }

    /// The URL with the password masked: what errors and logs show.
    public var description: String {
        "postgresql://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    /// The full URL, password included: only for handing to a child process.
    public var secretURLString: String {
        var components = URLComponents()
        components.scheme = "postgresql"
        components.user = user
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        return components.string ?? description
    }
}

public enum DatabaseURLError: Error, Equatable, CustomStringConvertible {
    case malformed, scheme(String), missing(String), port, options

    public var description: String {
        let form = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        switch self {
        case .malformed: return "the database URL is not a URL; give it as \(form)"
        case .scheme(let scheme): return "the database URL's scheme '\(scheme)' is not postgresql; give it as \(form)"
        case .missing(let part): return "the database URL has no \(part); give it as \(form)"
        case .port: return "the database URL's port is not between 1 and 65535"
        case .options: return "the database URL takes no options after '?'; give it as \(form)"
        }
    }
}
