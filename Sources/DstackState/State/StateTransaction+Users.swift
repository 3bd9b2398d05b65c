import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// An API user. Only the SHA-256 of the token is stored: a copy of state.db opens no door.
public struct StoredUser: Sendable, Equatable {
    public var name: String
    /// "admin" or "user".
    public var role: String
    public var createdAt: Date

    public init(name: String, role: String, createdAt: Date) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
    }
}

extension StateTransaction {
    public func users() throws -> [StoredUser] {
        try db.query("SELECT name, role, created_at FROM users ORDER BY name").map(Self.user)
    }

    public func user(named name: String) throws -> StoredUser? {
        try db.query("SELECT name, role, created_at FROM users WHERE name = ?", [.text(name)]).first.map(Self.user)
    }

    /// The user whose token hashes to `tokenHash`, if any.
    public func user(tokenHash: String) throws -> StoredUser? {
        try db.query("SELECT name, role, created_at FROM users WHERE token_hash = ?", [.text(tokenHash)]).first.map(Self.user)
    }

    /// Adds a user; false when the name is taken.
    public func addUser(name: String, role: String, tokenHash: String, at now: Date = Date()) throws -> Bool {
        if try user(named: name) != nil { return false }
        try db.query("INSERT INTO users(name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                     [.text(name), .text(role), .text(tokenHash), .real(now.timeIntervalSince1970)])
        return true
    }

    /// Gives an existing user a new token (the old one stops working at once).
    public func replaceToken(name: String, tokenHash: String) throws {
        try db.query("UPDATE users SET token_hash = ? WHERE name = ?", [.text(tokenHash), .text(name)])
    }

    /// Removes a user; false when there was none. Their runs keep their name.
    public func removeUser(name: String) throws -> Bool {
        guard try user(named: name) != nil else { return false }
        try db.query("DELETE FROM users WHERE name = ?", [.text(name)])
        return true
    }

    public func adminCount() throws -> Int {
        Int(try db.query("SELECT COUNT(*) FROM users WHERE role = 'admin'").first?.first?.integer ?? 0)
    }

    private static func user(_ row: [SQLiteValue]) -> StoredUser {
        StoredUser(name: row[0].text ?? "", role: row[1].text ?? "user", createdAt: Date(timeIntervalSince1970: row[2].real ?? 0))
    }
}
