import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// Users and their tokens, as the API server keeps them. A token is 256 random bits,
/// shown once; state keeps only its SHA-256.
public struct UserDirectory: Sendable {
    public static let adminName = "admin"
    public let state: StateStore
    public let home: DstackHome

    public init(state: StateStore, home: DstackHome) {
        self.state = state
        self.home = home
    }

    /// `DSTACK_HOME/admin.token` (0600): the first admin's token, which the CLI on this
    /// machine reads. Whoever can read DSTACK_HOME is the admin.
    public static func adminTokenFile(_ home: DstackHome) -> URL { home.url.appendingPathComponent("admin.token") }

    public static func newToken() -> String { "dstk_" + SecureRandom.hex(32) }

    /// At first start: creates the admin user and writes its token file. Later starts
    /// leave both alone, unless the token file no longer opens the admin account (state
    /// was replaced, or the file deleted), when the admin gets a new token. A state in
    /// Postgres is shared by several servers, each with its own home: there an existing
    /// admin keeps its token (another server's CLIs use it); copy admin.token from the
    /// first server's home, or add users with `dstack users add`.
    public func ensureAdmin() throws {
        let file = Self.adminTokenFile(home)
        let saved = (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let admin = try state.read { try $0.user(named: Self.adminName) }
        if admin != nil, state.backendName == "postgres" { return }
        if let admin, admin.role == "admin", let saved, !saved.isEmpty,
           try state.read({ try $0.user(tokenHash: TokenHash.sha256Hex(saved)) })?.name == admin.name {
            return
        }
        let token = Self.newToken()
        // The file first: a crash between the two leaves a token that opens nothing, and
        // the next start makes another, instead of an account no file can open.
        try AtomicFile.write(Array((token + "\n").utf8), to: file, mode: 0o600)
        try state.write { tx in
            if try tx.user(named: Self.adminName) == nil {
                _ = try tx.addUser(name: Self.adminName, role: "admin", tokenHash: TokenHash.sha256Hex(token))
            } else {
                try tx.replaceToken(name: Self.adminName, tokenHash: TokenHash.sha256Hex(token))
            }
        }
    }

    /// The user a bearer token belongs to, or nil.
    public func user(token: String) throws -> StoredUser? {
        guard !token.isEmpty else { return nil }
        return try state.read { try $0.user(tokenHash: TokenHash.sha256Hex(token)) }
    }

    /// Adds a user and returns its token (the only time it is seen).
    public func add(name: String, role: String) throws -> (StoredUser, String) {
        guard Self.isValidName(name) else { throw UserError.badName(name) }
        let token = Self.newToken()
        let added = try state.write { try $0.addUser(name: name, role: role, tokenHash: TokenHash.sha256Hex(token)) }
        guard added, let user = try state.read({ try $0.user(named: name) }) else { throw UserError.exists(name) }
        return (user, token)
    }

    public func remove(name: String) throws {
        try state.write { tx in
            guard let user = try tx.user(named: name) else { throw UserError.unknown(name) }
            if user.role == "admin", try tx.adminCount() == 1 { throw UserError.lastAdmin(name) }
            _ = try tx.removeUser(name: name)
        }
    }

    /// 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber, name.count <= 64 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}

public enum UserError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case exists(String)
    case unknown(String)
    case lastAdmin(String)

    public var description: String {
        switch self {
        case .badName(let name):
            return "a user name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got '\(name)'"
        case .exists(let name): return "a user named '\(name)' already exists"
        case .unknown(let name): return "no user named '\(name)'; see 'dstack users list'"
        case .lastAdmin(let name): return "'\(name)' is the last admin; add another admin before removing it"
        }
    }
}
