import Foundation

/// One entry of the fleet's timeline, as the web page shows it.
public struct FleetEventRecord: Sendable, Equatable {
    /// What happened. Kinds are open-ended text so that a new one needs no migration;
    /// these are the ones the server records.
    public enum Kind: String, Sendable, CaseIterable {
        case launch, fulfilment, interruption, termination, sweep, requeue, gaveUp = "gave_up", runFailed = "run_failed"
        case cloudFailure = "cloud_failure"
    }

    public var id: Int
    public var at: Date
    public var kind: String
    /// The instance, launch or run it is about.
    public var subject: String
    public var detail: String

    public init(id: Int = 0, at: Date, kind: String, subject: String, detail: String) {
        self.id = id
        self.at = at
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }
}

extension StateTransaction {
    /// The timeline keeps this many events; older ones are dropped as new ones come.
    public static let keptEvents = 10_000

    public func appendEvents(_ events: [FleetEventRecord]) throws {
        guard !events.isEmpty else { return }
        for event in events {
            try db.query("INSERT INTO events(at, kind, subject, detail) VALUES (?, ?, ?, ?)",
                         [.real(event.at.timeIntervalSince1970), .text(event.kind), .text(event.subject), .text(event.detail)])
        }
        try db.query("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", [.integer(Int64(Self.keptEvents))])
    }

    /// The newest events first; with `before`, those older than that ID (paging back).
    public func events(before: Int? = nil, limit: Int) throws -> [FleetEventRecord] {
        let rows: [[SQLiteValue]]
        if let before {
            rows = try db.query("SELECT id, at, kind, subject, detail FROM events WHERE id < ? ORDER BY id DESC LIMIT ?",
                                [.integer(Int64(before)), .integer(Int64(limit))])
        } else {
            rows = try db.query("SELECT id, at, kind, subject, detail FROM events ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))])
        }
        return rows.map { row in
            FleetEventRecord(id: Int(row[0].integer ?? 0), at: Date(timeIntervalSince1970: row[1].real ?? 0),
                             kind: row[2].text ?? "", subject: row[3].text ?? "", detail: row[4].text ?? "")
        }
    }

    /// The number of runs in each status.
    public func runCountsByStatus() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try db.query("SELECT status, COUNT(*) FROM runs GROUP BY status") {
            counts[row[0].text ?? ""] = Int(row[1].integer ?? 0)
        }
        return counts
    }

    /// When the oldest run still waiting for an instance was submitted; nil when none waits.
    public func oldestWaitingSubmission() throws -> Date? {
        try db.query("SELECT MIN(submitted_at) FROM runs WHERE status IN ('submitted', 'pending', 'provisioning')")
            .first?.first?.real.map { Date(timeIntervalSince1970: $0) }
    }

    /// A short text that changes whenever a run, an instance or the timeline does: the web
    /// page's live updates compare it rather than the whole state. Heartbeats do not
    /// change it.
    public func changeMark() throws -> String {
        let row = try db.query("""
            SELECT (SELECT COUNT(*) || '/' || COALESCE(MAX(updated_at), 0) FROM runs),
                   (SELECT CAST(COALESCE(MAX(id), 0) AS TEXT) FROM events),
                   (SELECT COUNT(*) || '/' || COALESCE(SUM(LENGTH(id || COALESCE(run_id, '') || COALESCE(CAST(registered_at AS TEXT), ''))), 0)
                      || '/' || COALESCE(MAX(recorded_at), 0) || '/' || COALESCE(MAX(idle_since), 0) FROM instances),
                   (SELECT COUNT(*) || '/' || COALESCE(SUM(max_instances), 0) || '/' || COALESCE(MAX(updated_at), 0) FROM rules),
                   (SELECT COALESCE(MAX(key || value), '') FROM meta WHERE key = 'enabled')
            """).first ?? []
        return row.map { $0.text ?? "" }.joined(separator: "|")
    }
}
