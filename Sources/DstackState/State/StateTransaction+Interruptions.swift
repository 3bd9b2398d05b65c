import DstackProvider
import DstackWire
import Foundation

/// A pool (an instance type in one zone) that dstack avoids for a while. A hard cooldown
/// (the cloud had no capacity, or left a request unfulfilled) skips the pool; a soft one
/// (it interrupted an instance there) only ranks it after every other pool that fits.
public struct OfferingCooldown: Sendable, Equatable {
    public var instanceType: String
    /// "" for the whole type (a cloud that names no zones).
    public var zone: String
    public var until: Date
    public var reason: String
    public var hard: Bool

    public init(instanceType: String, zone: String, until: Date, reason: String, hard: Bool) {
        self.instanceType = instanceType
        self.zone = zone
        self.until = until
        self.reason = reason
        self.hard = hard
    }
}

extension StateTransaction {
    /// Marks a registered instance as being taken back by the cloud: it gets no work
    /// from now on. The first signal wins: an instance already marked is left as it is
    /// and nil returned. Returns the instance as it was (with the run it had).
    public func markInterrupted(instanceID: String, signal: String, terminateAt: Date?, at now: Date = Date()) throws -> FleetInstance? {
        guard let instance = try fleetInstance(instanceID), instance.interruption == nil else { return nil }
        try db.query("""
            UPDATE instances SET phase = 'interrupted', run_id = NULL, idle_since = NULL, interruption = ?, interrupted_at = ?,
            terminate_at = ? WHERE id = ? AND interruption IS NULL
            """, [.text(signal), .real(now.timeIntervalSince1970), terminateAt.map { .real($0.timeIntervalSince1970) } ?? .null,
                  .text(instanceID)])
        try endRunUsage(instanceID: instanceID, at: now)
        return instance
    }

    /// Puts a rebalance policy on an instance (`drain` or `replace`); false when it had one.
    @discardableResult
    public func markDraining(instanceID: String, policy: String) throws -> Bool {
        try db.query("UPDATE instances SET draining = ? WHERE id = ? AND draining IS NULL", [.text(policy), .text(instanceID)])
        return db.changes == 1
    }

    /// The zone the cloud listed an instance in.
    public func setInstanceZone(_ instanceID: String, zone: String) throws {
        try db.query("UPDATE instances SET zone = ? WHERE id = ? AND zone IS DISTINCT FROM ?", [.text(zone), .text(instanceID), .text(zone)])
    }

    /// The signal of a run's last interruption, for `dstack ps`.
    public func setRunInterruptedBy(_ runID: String, signal: String) throws {
        try db.query("UPDATE runs SET interrupted_by = ? WHERE id = ?", [.text(signal), .text(runID)])
    }

    public func runInterruptedBy(_ runID: String) throws -> (signal: String?, interruptions: Int) {
        let row = try db.query("SELECT interrupted_by, interruptions FROM runs WHERE id = ?", [.text(runID)]).first
        return (row?[0].text, Int(row?[1].integer ?? 0))
    }

    // MARK: cooled pools

    /// Cools a pool until `until`; a later `until` or a hard cooldown replaces a softer,
    /// shorter one, never the other way round.
    public func coolOffering(_ cooldown: OfferingCooldown) throws {
        try db.query("""
            INSERT INTO offering_cooldowns(instance_type, zone, until, reason, hard) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(instance_type, zone) DO UPDATE SET
                until = CASE WHEN excluded.until > offering_cooldowns.until THEN excluded.until ELSE offering_cooldowns.until END,
                reason = excluded.reason,
                hard = CASE WHEN excluded.hard > offering_cooldowns.hard THEN excluded.hard ELSE offering_cooldowns.hard END
            """, [.text(cooldown.instanceType), .text(cooldown.zone), .real(cooldown.until.timeIntervalSince1970),
                  .text(cooldown.reason), .integer(cooldown.hard ? 1 : 0)])
    }

    /// Pools still cooled at `now` (expired rows stay until a pool is cooled again: they are few).
    public func offeringCooldowns(at now: Date = Date()) throws -> [OfferingCooldown] {
        try db.query("""
            SELECT instance_type, zone, until, reason, hard FROM offering_cooldowns WHERE until > ? ORDER BY instance_type, zone
            """, [.real(now.timeIntervalSince1970)])
            .map { row in
                OfferingCooldown(instanceType: row[0].text ?? "", zone: row[1].text ?? "",
                                 until: Date(timeIntervalSince1970: row[2].real ?? 0), reason: row[3].text ?? "",
                                 hard: (row[4].integer ?? 0) != 0)
            }
    }
}

/// What a rule does with an instance of its type that gets a rebalance recommendation.
public enum RebalancePolicy: String, Sendable, Equatable, CaseIterable {
    /// Nothing: the instance keeps working until (and unless) it is interrupted.
    case ignore
    /// The instance takes no new runs and goes once idle.
    case drain
    /// As drain, and a replacement starts now (the instance stops counting against the max).
    case replace
}

extension StateTransaction {
    public func rebalancePolicy(for instanceType: String) throws -> RebalancePolicy {
        let text = try db.query("SELECT on_rebalance FROM rules WHERE instance_type = ?", [.text(instanceType)]).first?.first?.text
        return text.flatMap(RebalancePolicy.init(rawValue:)) ?? .ignore
    }

    /// Sets a rule's rebalance policy; false when there is no rule for the type.
    @discardableResult
    public func setRebalancePolicy(_ policy: RebalancePolicy, for instanceType: String) throws -> Bool {
        try db.query("UPDATE rules SET on_rebalance = ? WHERE instance_type = ?", [.text(policy.rawValue), .text(instanceType)])
        return db.changes == 1
    }
}

extension StateTransaction {
    /// The availability zone a launch batch was placed in, if dstack chose one.
    public func launchZone(token: String) throws -> String? {
        try db.query("SELECT zone FROM launches WHERE token = ?", [.text(token)]).first?.first?.text
    }

    public func setLaunchZone(token: String, zone: String) throws {
        try db.query("UPDATE launches SET zone = ? WHERE token = ?", [.text(zone), .text(token)])
    }
}
