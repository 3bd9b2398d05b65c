import DstackProject
import DstackProvider
import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Users and their tokens, as the API server keeps them. A token is 256 random bits,
/// shown once; state keeps only its SHA-256.
public struct UserDirectory: Sendable {
    public static let adminName = "admin"
    public let state: StateStore
    public let home: DstackHome
    /// Tokens that opened an account in the last `TokenCache.lifetime`: most API calls
    /// skip the users lookup (a round trip on Postgres).
    private let recent = TokenCache()

    public init(state: StateStore, home: DstackHome) {
        self.state = state
        self.home = home
    }

    /// `DSTACK_HOME/admin.token` (0600): the first admin's token, which the CLI on this
    /// machine reads. Whoever can read DSTACK_HOME is the admin.
    public static func adminTokenFile(_ home: DstackHome) -> URL { home.url.appendingPathComponent("admin.token") }

    public static func newToken() -> String { "dstk_" + SecureRandom.hex(32) }

    /// What `ensureAdmin` found or did with this home's admin.token.
    public enum AdminTokenStatus: Equatable, Sendable {
        /// The file opens the admin account.
        case kept
        /// The admin (new, or one no file opened) got a new token, written to the file.
        case written
        /// The admin lives in a database shared with other servers, and this home has no
        /// token that opens it: nothing was written (that would lock out the others).
        case elsewhere
    }

    /// At first start: creates the admin user and writes its token file. Later starts
    /// leave both alone, unless the token file no longer opens the admin account (state
    /// was replaced, or the file deleted), when the admin gets a new token. A state in
    /// Postgres is shared by several servers, each with its own home: there an existing
    /// admin keeps its token (another server's CLIs use it) and this home is told
    /// `.elsewhere`; `resetAdminToken()` (`dstack server admin-token --reset`) gives
    /// it one on purpose.
    @discardableResult
    public func ensureAdmin() throws -> AdminTokenStatus {
        // Servers sharing one home (and one database) start one at a time here, so one
        // never overwrites the file the other's new admin token is in.
        try withHomeLocked { try ensureAdminLocked() }
    }

    private func ensureAdminLocked() throws -> AdminTokenStatus {
        let admin = try state.read { try $0.user(named: Self.adminName) }
        if admin != nil, try adminTokenOpensAdmin() { return .kept }
        let shared = state.backendName == "postgres"
        if admin != nil, shared { return .elsewhere }
        // Two servers of one database starting together: the one that creates the admin
        // writes its token; the other leaves it alone.
        return try writeAdminToken(replacing: !shared) ? .written : .elsewhere
    }

    /// Runs `body` holding an exclusive lock on the home directory itself (flock: no
    /// file of its own, released when the process dies).
    private func withHomeLocked<T>(_ body: () throws -> T) throws -> T {
        let descriptor = open(home.url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return try body() } // no home to lock: nothing to share either
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// Whether this home's admin.token opens the admin account.
    public func adminTokenOpensAdmin() throws -> Bool {
        let saved = (try? String(contentsOf: Self.adminTokenFile(home), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let saved, !saved.isEmpty, let user = try user(token: saved) else { return false }
        return user.name == Self.adminName && user.role == "admin"
    }

    /// Gives the admin user (made when missing) a new token and writes it to this home's
    /// admin.token (0600). The admin's previous token stops opening anything, in every
    /// home that holds it.
    public func resetAdminToken() throws {
        _ = try writeAdminToken(replacing: true)
    }

    /// Writes a new token to admin.token and makes it the admin's: creating the admin
    /// when missing, replacing its token only when `replacing`. False (and no file) when
    /// the admin exists and `replacing` is false.
    private func writeAdminToken(replacing: Bool) throws -> Bool {
        let token = Self.newToken()
        let file = Self.adminTokenFile(home)
        // The file first: a crash between the two leaves a token that opens nothing, and
        // the next start makes another, instead of an account no file can open.
        try AtomicFile.write(Array((token + "\n").utf8), to: file, mode: 0o600)
        let made = try state.write { tx -> Bool in
            if try tx.user(named: Self.adminName) == nil {
                return try tx.addUser(name: Self.adminName, role: "admin", tokenHash: TokenHash.sha256Hex(token))
            }
            guard replacing else { return false }
            try tx.replaceToken(name: Self.adminName, tokenHash: TokenHash.sha256Hex(token))
            return true
        }
        if !made { try? FileManager.default.removeItem(at: file) }
        recent.forgetAll()
        return made
    }

    /// The user a bearer token belongs to, or nil. A token that opened an account is
    /// believed for `TokenCache.lifetime` (1 s) without asking state again: a token
    /// revoked (its user removed, the admin token reset) stops working at once on this
    /// server and within that second on every other server sharing the state. A token
    /// that opens nothing is looked up every time.
    public func user(token: String) throws -> StoredUser? {
        guard !token.isEmpty else { return nil }
        if let known = recentUser(token: token) { return known }
        let hash = TokenHash.sha256Hex(token)
        let found = try state.statement { try $0.user(tokenHash: hash) }
        if let found { recent.remember(hash, found) }
        return found
    }

    /// The user of a token that opened an account within `TokenCache.lifetime`, without
    /// touching state (so a caller on an event loop or a cooperative thread may ask);
    /// nil: ask `user(token:)`.
    public func recentUser(token: String) -> StoredUser? {
        guard !token.isEmpty else { return nil }
        return recent.user(TokenHash.sha256Hex(token))
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
        recent.forgetAll()
    }

    /// 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber, name.count <= 64 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}

/// The accounts tokens opened lately, by token hash, each believed for `lifetime`.
final class TokenCache: @unchecked Sendable { // `lock` guards `entries`
    /// How long a token that opened an account is believed without asking state: the
    /// longest a token revoked on another server sharing the state keeps working here.
    static let lifetime: TimeInterval = 1
    /// Past this many tokens the cache starts afresh (a server has a few users).
    static let capacity = 1024
    private let lock = NSLock()
    private var entries: [String: (user: StoredUser, until: ContinuousClock.Instant)] = [:]

    func user(_ hash: String, now: ContinuousClock.Instant = .now) -> StoredUser? {
        lock.withLock {
            guard let entry = entries[hash] else { return nil }
            guard entry.until > now else {
                entries[hash] = nil
                return nil
            }
            return entry.user
        }
    }

    func remember(_ hash: String, _ user: StoredUser, now: ContinuousClock.Instant = .now) {
        lock.withLock {
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[hash] = (user, now + .milliseconds(Int(Self.lifetime * 1000)))
        }
    }

    /// A user removed or a token replaced here: nothing cached is believed any more.
    func forgetAll() {
        lock.withLock { entries.removeAll() }
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
