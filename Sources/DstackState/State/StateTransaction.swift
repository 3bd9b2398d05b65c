import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// An autoscale rule: dstack may keep up to `max` instances of `instanceType`.
public struct AutoscaleRule: Sendable, Equatable {
    public var instanceType: String
    public var max: Int

    public init(instanceType: String, max: Int) {
        self.instanceType = instanceType
        self.max = max
    }
}

/// The reads and writes one transaction may do. Only `StateStore` makes these.
public struct StateTransaction {
    let db: any StateConnection

    // MARK: rules

    /// Every rule, sorted by instance type.
    public func rules() throws -> [AutoscaleRule] {
        try db.query("SELECT instance_type, max_instances FROM rules ORDER BY instance_type").map {
            AutoscaleRule(instanceType: $0[0].text ?? "", max: Int($0[1].integer ?? 0))
        }
    }

    /// The rules and whether autoscaling is enabled, in one statement (a run's fit check
    /// reads both on every submission; one statement is one round trip on Postgres).
    public func rulesAndEnabled() throws -> (rules: [AutoscaleRule], enabled: Bool) {
        let rows = try db.query("""
            SELECT NULL, NULL, value FROM meta WHERE key = 'enabled'
            UNION ALL SELECT instance_type, max_instances, NULL FROM rules
            """)
        var rules: [AutoscaleRule] = []
        var enabled = true
        for row in rows {
            if let type = row[0].text {
                rules.append(AutoscaleRule(instanceType: type, max: Int(row[1].integer ?? 0)))
            } else {
                enabled = row[2].text != "0"
            }
        }
        return (rules.sorted { $0.instanceType < $1.instanceType }, enabled)
    }

    public func rule(for instanceType: String) throws -> AutoscaleRule? {
        try db.query("SELECT instance_type, max_instances FROM rules WHERE instance_type = ?", [.text(instanceType)])
            .first.map { AutoscaleRule(instanceType: $0[0].text ?? "", max: Int($0[1].integer ?? 0)) }
    }

    /// Sets the max for a type; 0 removes the rule. Returns the previous max (0 if none).
    @discardableResult
    public func setRule(_ instanceType: String, max: Int) throws -> Int {
        precondition(max >= 0, "a rule's max is never negative")
        let previous = try rule(for: instanceType)?.max ?? 0
        if max == 0 {
            try db.query("DELETE FROM rules WHERE instance_type = ?", [.text(instanceType)])
        } else {
            try db.query("""
                INSERT INTO rules(instance_type, max_instances, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(instance_type) DO UPDATE SET max_instances = excluded.max_instances, updated_at = excluded.updated_at
                """, [.text(instanceType), .integer(Int64(max)), .real(Date().timeIntervalSince1970)])
        }
        return previous
    }

    /// Deletes every rule; returns how many there were.
    @discardableResult
    public func removeAllRules() throws -> Int {
        try db.query("DELETE FROM rules")
        return db.changes
    }

    // MARK: flags and identity

    public func isEnabled() throws -> Bool {
        try meta("enabled") != "0"
    }

    /// Returns true when the flag changed.
    @discardableResult
    public func setEnabled(_ enabled: Bool) throws -> Bool {
        let before = try isEnabled()
        try setMeta("enabled", enabled ? "1" : "0")
        return before != enabled
    }

    /// A random ID made when state was created; providers name their resources with it.
    public func installationID() throws -> String {
        try meta("installation_id") ?? ""
    }

    func meta(_ key: String) throws -> String? {
        try db.query("SELECT value FROM meta WHERE key = ?", [.text(key)]).first?.first?.text
    }

    func setMeta(_ key: String, _ value: String) throws {
        try db.query("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     [.text(key), .text(value)])
    }
}
