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
    /// The runs the event concerns. A user who is not an admin sees an event that names
    /// another user's run only without that run (`sharedDetail`), or not at all when the
    /// event is about that run alone.
    public var runs: [String]
    /// The detail without run IDs, for users who do not own every run in `runs`.
    public var sharedDetail: String?

    public init(id: Int = 0, at: Date, kind: String, subject: String, detail: String, runs: [String] = [],
                sharedDetail: String? = nil) {
        self.id = id
        self.at = at
        self.kind = kind
        self.subject = subject
        self.detail = detail
        self.runs = runs
        self.sharedDetail = sharedDetail
    }

    /// The event as `user` may see it, given which of its runs are theirs; nil when it is
    /// about one of someone else's runs and nothing else.
    public func seen(ownedRuns: Set<String>) -> FleetEventRecord? {
        if runs.allSatisfy(ownedRuns.contains) { return self }
        if runs.contains(subject) { return nil }
        var shared = self
        shared.detail = sharedDetail ?? ""
        shared.runs = runs.filter(ownedRuns.contains)
        return shared
    }
}

extension StateTransaction {
    /// The timeline keeps this many events; older ones are dropped as new ones come.
    public static let keptEvents = 10_000

    public func appendEvents(_ events: [FleetEventRecord]) throws {
        guard !events.isEmpty else { return }
        for event in events {
            try db.query("INSERT INTO events(at, kind, subject, detail, runs, shared_detail) VALUES (?, ?, ?, ?, ?, ?)",
                         [.real(event.at.timeIntervalSince1970), .text(event.kind), .text(event.subject), .text(event.detail),
                          .text(event.runs.joined(separator: " ")), event.sharedDetail.map { .text($0) } ?? .null])
        }
        try db.query("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", [.integer(Int64(Self.keptEvents))])
    }

    /// The newest events first; with `before`, those older than that ID (paging back).
    /// With `user`, as that user may see them (`FleetEventRecord.seen`): up to `limit`
    /// of those, read further back as far as it takes.
    public func events(before: Int? = nil, limit: Int, visibleTo user: String? = nil) throws -> [FleetEventRecord] {
        guard let user else { return try eventPage(before: before, limit: limit) }
        var owned: [String: Bool] = [:]
        var seen: [FleetEventRecord] = []
        var cursor = before
        while seen.count < limit {
            let page = try eventPage(before: cursor, limit: max(limit, 100))
            for event in page {
                let unknown = event.runs.filter { owned[$0] == nil }
                let mine = try runs(unknown, submittedBy: user)
                for run in unknown { owned[run] = mine.contains(run) }
                if let shown = event.seen(ownedRuns: Set(event.runs.filter { owned[$0] == true })), seen.count < limit {
                    seen.append(shown)
                }
            }
            guard let last = page.last, page.count >= max(limit, 100) else { break }
            cursor = last.id
        }
        return seen
    }

    private func eventPage(before: Int?, limit: Int) throws -> [FleetEventRecord] {
        let columns = "id, at, kind, subject, detail, runs, shared_detail"
        let rows: [[SQLiteValue]]
        if let before {
            rows = try db.query("SELECT \(columns) FROM events WHERE id < ? ORDER BY id DESC LIMIT ?",
                                [.integer(Int64(before)), .integer(Int64(limit))])
        } else {
            rows = try db.query("SELECT \(columns) FROM events ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))])
        }
        return rows.map { row in
            FleetEventRecord(id: Int(row[0].integer ?? 0), at: Date(timeIntervalSince1970: row[1].real ?? 0),
                             kind: row[2].text ?? "", subject: row[3].text ?? "", detail: row[4].text ?? "",
                             runs: (row[5].text ?? "").split(separator: " ").map(String.init), sharedDetail: row[6].text)
        }
    }

    /// Which of `ids` are runs that `user` submitted.
    public func runs(_ ids: [String], submittedBy user: String) throws -> Set<String> {
        var owned: Set<String> = []
        for id in Set(ids) where try !db.query("SELECT 1 FROM runs WHERE id = ? AND submitted_by = ?", [.text(id), .text(user)]).isEmpty {
            owned.insert(id)
        }
        return owned
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
