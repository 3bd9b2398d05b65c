import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `postgresql://USER:PASS@HOST:PORT/DB[?sslmode=MODE&sslrootcert=PATH]` (or
/// `postgres://`), as `--database-url` and `DSTACK_DATABASE_URL` give it. Its
/// description never shows the password.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// TLS to the database, as libpq's `sslmode` names it (default: disable).
    public var sslMode: SSLMode
    /// The PEM file of the certificate authorities that `verify-ca`/`verify-full` trust
    /// (default: the system's).
    public var sslRootCertificate: String?

    /// libpq's modes but `allow` (try plain text first, which nobody should want).
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain text.
        case disable
        /// TLS when the server offers it, else plain text; no certificate check.
        case prefer
        /// TLS or no connection; no certificate check (encrypted, not authenticated).
        case require
        /// TLS, and the server's certificate chains to a trusted root.
        case verifyCA = "verify-ca"
        /// TLS, a trusted chain, and the certificate names the host connected to.
        case verifyFull = "verify-full"

        /// Whether the server's certificate is checked against trusted roots.
        public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }
    }

    public init(user: String, password: String?, host: String, port: Int, database: String,
                sslMode: SSLMode = .disable, sslRootCertificate: String? = nil) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.sslMode = sslMode
        self.sslRootCertificate = sslRootCertificate
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
        var mode: SSLMode?
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = SSLMode(rawValue: value) else {
                    throw DatabaseURLError.sslMode(item.value ?? "")
                }
                mode = parsed
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else { throw DatabaseURLError.missing("sslrootcert path") }
                rootCertificate = value
            default:
                throw DatabaseURLError.option(item.name)
            }
        }
        // As libpq: a root certificate given with `require` (or no mode) asks for the
        // chain to be checked, i.e. verify-ca.
        if rootCertificate != nil, mode == nil || mode == .require { mode = .verifyCA }
        if rootCertificate != nil, mode == .disable || mode == .prefer { throw DatabaseURLError.rootCertificateUnused(mode!.rawValue) }
        self.init(user: components.user?.removingPercentEncoding ?? user, password: components.password?.removingPercentEncoding,
                  host: host, port: components.port ?? 5432, database: database.removingPercentEncoding ?? database,
                  sslMode: mode ?? .disable, sslRootCertificate: rootCertificate)
    }

    /// Whether the host is an IP address (checked against a certificate's IP entries)
    /// rather than a name.
    var isIPAddressHost: Bool {
        var v4 = in_addr(), v6 = in6_addr()
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// Whether `text` names a Postgres database rather than a SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgresql:") || lower.hasPrefix("postgres:")
    }

    /// The URL with the password masked: what errors and logs show.
    public var description: String {
        "postgresql://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)" + optionsText
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
        if !queryItems.isEmpty { components.queryItems = queryItems }
        return components.string ?? description
    }

    private var queryItems: [URLQueryItem] {
        guard sslMode != .disable || sslRootCertificate != nil else { return [] }
        return [URLQueryItem(name: "sslmode", value: sslMode.rawValue)]
            + (sslRootCertificate.map { [URLQueryItem(name: "sslrootcert", value: $0)] } ?? [])
    }

    private var optionsText: String {
        queryItems.isEmpty ? "" : "?" + queryItems.map { "\($0.name)=\($0.value ?? "")" }.joined(separator: "&")
    }
}

public enum DatabaseURLError: Error, Equatable, CustomStringConvertible {
    case malformed, scheme(String), missing(String), port, option(String), sslMode(String), rootCertificateUnused(String)

    public var description: String {
        let form = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        let modes = DatabaseURL.SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
        switch self {
        case .malformed: return "the database URL is not a URL; give it as \(form)"
        case .scheme(let scheme): return "the database URL's scheme '\(scheme)' is not postgresql; give it as \(form)"
        case .missing(let part): return "the database URL has no \(part); give it as \(form)"
        case .port: return "the database URL's port is not between 1 and 65535"
        case .option(let name):
            return "the database URL's option '\(Self.shown(name))' is not one dstack takes; it takes sslmode=MODE and sslrootcert=PATH"
        case .sslMode(let value): return "the database URL's sslmode '\(Self.shown(value))' is not one of \(modes)"
        case .rootCertificateUnused(let mode):
            return "the database URL gives sslrootcert with sslmode=\(mode), which checks no certificate; use verify-full (or verify-ca)"
        }
    }

    /// A value from the URL as shown back: short, one line (it may be mistyped secrets).
    private static func shown(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > 40 ? String(line.prefix(40)) + "..." : line
    }
}
