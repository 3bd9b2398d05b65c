import DstackProvider
import Foundation

/// One entry of the spot price history as state keeps it: from `at` on, until the next
/// entry of its type and zone, an instance cost `microsPerHour` millionths of a dollar an hour.
public struct SpotPriceRecord: Sendable, Equatable {
    public var instanceType: String
    public var zone: String
    public var at: Date
    public var microsPerHour: Int64

    public init(instanceType: String, zone: String, at: Date, microsPerHour: Int64) {
        self.instanceType = instanceType
        self.zone = zone
        self.at = at
        self.microsPerHour = microsPerHour
    }
}

/// An instance's life as the cloud listed it: launch (or fulfilment) to termination.
public struct InstanceLifeRecord: Sendable, Equatable {
    public var id: String
    public var vendor: String
    public var instanceType: String
    public var zone: String?
    public var startedAt: Date
    /// nil while it runs.
    public var endedAt: Date?
}

/// A span of an instance's life given to a run.
public struct RunUsageRecord: Sendable, Equatable {
    public var runID: String
    public var instanceID: String
    public var startedAt: Date
    /// nil while the run holds it.
    public var endedAt: Date?
}

/// The cost model's inputs. They outlive the instances and runs they describe (the
/// `instances` row goes when the runner does), so spend over 30 days can be told.
extension StateTransaction {
    // MARK: prices

    /// Keeps the history entries not known yet; an entry that repeats the price already in
    /// effect at its time adds nothing and is skipped.
    public func recordSpotPrices(_ records: [SpotPriceRecord]) throws {
        for record in records.sorted(by: { $0.at < $1.at }) {
            let current = try db.query("""
                SELECT micros_per_hour FROM spot_prices WHERE instance_type = ? AND zone = ? AND at <= ? ORDER BY at DESC LIMIT 1
                """, [.text(record.instanceType), .text(record.zone), .real(record.at.timeIntervalSince1970)]).first?.first?.integer
            if current == record.microsPerHour { continue }
            try db.query("""
                INSERT INTO spot_prices(instance_type, zone, at, micros_per_hour) VALUES (?, ?, ?, ?)
                ON CONFLICT(instance_type, zone, at) DO NOTHING
                """, [.text(record.instanceType), .text(record.zone), .real(record.at.timeIntervalSince1970),
                      .integer(record.microsPerHour)])
        }
    }

    /// The history of these types (every type when nil), oldest first.
    public func spotPrices(instanceTypes: [String]? = nil) throws -> [SpotPriceRecord] {
        var sql = "SELECT instance_type, zone, at, micros_per_hour FROM spot_prices"
        var values: [SQLValue] = []
        if let instanceTypes {
            guard !instanceTypes.isEmpty else { return [] }
            sql += " WHERE instance_type IN (\(Array(repeating: "?", count: instanceTypes.count).joined(separator: ", ")))"
            values = instanceTypes.map { .text($0) }
        }
        return try db.query(sql + " ORDER BY instance_type, zone, at", values).map { row in
            SpotPriceRecord(instanceType: row[0].text ?? "", zone: row[1].text ?? "", at: Date(timeIntervalSince1970: row[2].real ?? 0),
                            microsPerHour: row[3].integer ?? 0)
        }
    }

    // MARK: instance lives

    /// Holds a vendor's lives against the cloud's list: an instance listed live for the
    /// first time starts its life at the cloud's launch time; one no longer listed live
    /// ends it now. Only what changed is written.
    public func recordInstanceLives(_ listed: [ManagedInstance], vendor: String, at now: Date) throws {
        let changes = InstanceLifeChanges(listed: listed, open: try openInstanceLives(vendor: vendor))
        for (id, zone) in changes.zonesLearned {
            try db.query("UPDATE instance_lives SET zone = ? WHERE id = ?", [.text(zone), .text(id)])
        }
        for instance in changes.started {
            let started = Swift.min(instance.launchTime ?? now, now)
            try db.query("""
                INSERT INTO instance_lives(id, vendor, instance_type, zone, started_at, ended_at) VALUES (?, ?, ?, ?, ?, NULL)
                ON CONFLICT(id) DO UPDATE SET ended_at = NULL, zone = COALESCE(instance_lives.zone, excluded.zone)
                """, [.text(instance.id), .text(vendor), .text(instance.instanceType),
                      instance.availabilityZone.map { .text($0) } ?? .null, .real(started.timeIntervalSince1970)])
        }
        for id in changes.ended {
            try endInstanceLife(id, at: now)
        }
    }

    /// Whether `recordInstanceLives` would change anything: a life to open, end, or
    /// give its zone. Read first, so that a pass whose cloud list matches the lives
    /// already recorded (most passes) takes no write lock.
    public func instanceLivesNeedRecording(_ listed: [ManagedInstance], vendor: String) throws -> Bool {
        !InstanceLifeChanges(listed: listed, open: try openInstanceLives(vendor: vendor)).isEmpty
    }

    /// The lives not ended, by instance ID, with their zones.
    private func openInstanceLives(vendor: String) throws -> [String: String?] {
        Dictionary(try db.query("SELECT id, zone FROM instance_lives WHERE vendor = ? AND ended_at IS NULL", [.text(vendor)])
            .map { ($0[0].text ?? "", $0[1].text) }, uniquingKeysWith: { first, _ in first })
    }

    public func endInstanceLife(_ id: String, at now: Date) throws {
        try db.query("UPDATE instance_lives SET ended_at = ? WHERE id = ? AND ended_at IS NULL", [.real(now.timeIntervalSince1970), .text(id)])
        try endRunUsage(instanceID: id, at: now)
    }

    /// Lives that overlap the time from `since` on (every life when nil).
    public func instanceLives(since: Date? = nil) throws -> [InstanceLifeRecord] {
        let columns = "SELECT id, vendor, instance_type, zone, started_at, ended_at FROM instance_lives"
        let rows = try since.map {
            try db.query(columns + " WHERE ended_at IS NULL OR ended_at > ? ORDER BY started_at, id", [.real($0.timeIntervalSince1970)])
        } ?? db.query(columns + " ORDER BY started_at, id")
        return rows.map(Self.life)
    }

    public func instanceLives(ids: [String]) throws -> [InstanceLifeRecord] {
        try Self.chunks(ids).flatMap { chunk in
            try db.query("SELECT id, vendor, instance_type, zone, started_at, ended_at FROM instance_lives WHERE id IN (\(Self.marks(chunk)))",
                         chunk.map { .text($0) }).map(Self.life)
        }
    }

    private static func life(_ row: [SQLValue]) -> InstanceLifeRecord {
        InstanceLifeRecord(id: row[0].text ?? "", vendor: row[1].text ?? "", instanceType: row[2].text ?? "", zone: row[3].text,
                           startedAt: Date(timeIntervalSince1970: row[4].real ?? 0),
                           endedAt: row[5].real.map(Date.init(timeIntervalSince1970:)))
    }

    // MARK: run usage

    /// A run starts holding an instance (whatever it held before is let go).
    public func startRunUsage(runID: String, instanceID: String, at now: Date) throws {
        try endRunUsage(instanceID: instanceID, at: now)
        try db.query("""
            INSERT INTO run_usage(run_id, instance_id, started_at) VALUES (?, ?, ?)
            ON CONFLICT(run_id, instance_id, started_at) DO NOTHING
            """, [.text(runID), .text(instanceID), .real(now.timeIntervalSince1970)])
    }

    /// Whatever run holds the instance lets it go.
    public func endRunUsage(instanceID: String, at now: Date) throws {
        try db.query("UPDATE run_usage SET ended_at = ? WHERE instance_id = ? AND ended_at IS NULL",
                     [.real(now.timeIntervalSince1970), .text(instanceID)])
    }

    /// Spans that overlap the time from `since` on (every span when nil).
    public func runUsage(since: Date? = nil) throws -> [RunUsageRecord] {
        let columns = "SELECT run_id, instance_id, started_at, ended_at FROM run_usage"
        let rows = try since.map {
            try db.query(columns + " WHERE ended_at IS NULL OR ended_at > ? ORDER BY started_at", [.real($0.timeIntervalSince1970)])
        } ?? db.query(columns + " ORDER BY started_at")
        return rows.map(Self.usage)
    }

    /// Every span of these runs, each attempt on each instance.
    public func runUsage(runIDs: [String]) throws -> [RunUsageRecord] {
        try Self.chunks(runIDs).flatMap { chunk in
            try db.query("SELECT run_id, instance_id, started_at, ended_at FROM run_usage WHERE run_id IN (\(Self.marks(chunk)))",
                         chunk.map { .text($0) }).map(Self.usage)
        }
    }

    private static func usage(_ row: [SQLValue]) -> RunUsageRecord {
        RunUsageRecord(runID: row[0].text ?? "", instanceID: row[1].text ?? "", startedAt: Date(timeIntervalSince1970: row[2].real ?? 0),
                       endedAt: row[3].real.map(Date.init(timeIntervalSince1970:)))
    }

    /// IN lists of at most 500 values (SQLite's and Postgres's bound-parameter limits stay far).
    private static func chunks(_ values: [String]) -> [[String]] {
        stride(from: 0, to: values.count, by: 500).map { Array(values[$0..<Swift.min($0 + 500, values.count)]) }
    }

    private static func marks(_ values: [String]) -> String { Array(repeating: "?", count: values.count).joined(separator: ", ") }
}

/// What the cloud's list changes in the open lives: the one decision behind both
/// `recordInstanceLives` and `instanceLivesNeedRecording`.
struct InstanceLifeChanges {
    /// Listed live, with no open life: a life starts.
    var started: [ManagedInstance] = []
    /// Open lives that had no zone, and the zone the list now gives.
    var zonesLearned: [(id: String, zone: String)] = []
    /// Open lives no longer listed live: they end.
    var ended: [String] = []

    init(listed: [ManagedInstance], open: [String: String?]) {
        var live = Set<String>()
        for instance in listed where instance.state.isLive && !instance.isUnfulfilledRequest {
            live.insert(instance.id)
            guard let zone = open[instance.id] else {
                started.append(instance)
                continue
            }
            if zone == nil, let listedZone = instance.availabilityZone { zonesLearned.append((instance.id, listedZone)) }
        }
        ended = open.keys.filter { !live.contains($0) }.sorted()
    }

    var isEmpty: Bool { started.isEmpty && zonesLearned.isEmpty && ended.isEmpty }
}
