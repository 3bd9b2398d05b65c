import DstackProject
import DstackProvider
import DstackWire
import Foundation

extension StateTransaction {
    private static let runColumns = """
        id, workflow, commands, requirements, status, reason, instance_id, attempt, exit_code,
        stop_requested, submitted_at, updated_at, finished_at, stage, env, code_sha256, code_size, submitted_by,
        interruptions, interrupted_by, retry_policy, error_retries
        """

    /// Adds a run in `submitted`; the server makes it pending on its next reconcile.
    /// `code` names an archive already in the code store.
    public func submitRun(id: String, workflow: String?, commands: [String], requirements: ResourceRequirements,
                          environment: [String: String] = [:], code: ShippedCode? = nil, submittedBy: String? = nil,
                          at now: Date = Date()) throws {
        try db.query(Self.runInsert(returning: false), Self.runInsertValues(
            id: id, workflow: workflow, commands: commands, requirements: requirements, environment: environment, code: code,
            submittedBy: submittedBy, retryPolicy: nil, at: now))
    }

    /// `submitRun` as one statement that also reads the run back: the stored run, or nil
    /// when the ID is taken (nothing is written then; draw another). An insert under a
    /// fresh key, it is safe outside the write lock (`StateStore.statement(writing:)`).
    public func insertRun(id: String, workflow: String?, commands: [String], requirements: ResourceRequirements,
                          environment: [String: String] = [:], code: ShippedCode? = nil, submittedBy: String? = nil,
                          retryPolicy: RunRetryPolicy? = nil, at now: Date = Date()) throws -> RunRecord? {
        try db.query(Self.runInsert(returning: true), Self.runInsertValues(
            id: id, workflow: workflow, commands: commands, requirements: requirements, environment: environment, code: code,
            submittedBy: submittedBy, retryPolicy: retryPolicy, at: now)).first.map(Self.runRecord)
    }

    private static func runInsert(returning: Bool) -> String {
        """
        INSERT INTO runs(id, workflow, commands, requirements, status, submitted_at, updated_at, env, code_sha256, code_size,
                         submitted_by, retry_policy)
        VALUES (?, ?, ?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?)
        """ + (returning ? " ON CONFLICT(id) DO NOTHING RETURNING \(runColumns)" : "")
    }

    private static func runInsertValues(id: String, workflow: String?, commands: [String], requirements: ResourceRequirements,
                                        environment: [String: String], code: ShippedCode?, submittedBy: String?,
                                        retryPolicy: RunRetryPolicy?, at now: Date) -> [SQLValue] {
        var env = JSONObject()
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) { env[key] = .string(value) }
        return [.text(id), workflow.map(SQLiteValue.text) ?? .null,
                .text(JSONValue.array(commands.map(JSONValue.string)).serialized()),
                .text(requirements.json.serialized()), .real(now.timeIntervalSince1970), .real(now.timeIntervalSince1970),
                .text(JSONValue.object(env).serialized()), code.map { .text($0.sha256) } ?? .null,
                code.map { .integer(Int64($0.size)) } ?? .null, submittedBy.map(SQLiteValue.text) ?? .null,
                retryPolicy.map { .text($0.storedText) } ?? .null]
    }

    public func run(_ id: String) throws -> RunRecord? {
        try db.query("SELECT \(Self.runColumns) FROM runs WHERE id = ?", [.text(id)]).first.map(Self.runRecord)
    }

    /// Finds a run by its full ID or a unique prefix of it, as `docker` does.
    public func findRun(_ idOrPrefix: String) throws -> RunRecord? {
        if let exact = try run(idOrPrefix) { return exact }
        let escaped = idOrPrefix.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "")
        let rows = try db.query("SELECT \(Self.runColumns) FROM runs WHERE id LIKE ? LIMIT 2", [.text(escaped + "%")])
        return rows.count == 1 ? try Self.runRecord(rows[0]) : nil
    }

    /// Every run, newest first; `limit` keeps `dstack ps` fast on a long history.
    /// `submittedBy`: only that user's runs.
    public func runs(statuses: [RunStatus]? = nil, limit: Int? = nil, submittedBy: String? = nil) throws -> [RunRecord] {
        var sql = "SELECT \(Self.runColumns) FROM runs"
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        if let statuses {
            conditions.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
            values = statuses.map { .text($0.rawValue) }
        }
        if let submittedBy {
            conditions.append("submitted_by = ?")
            values.append(.text(submittedBy))
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY submitted_at DESC, id DESC"
        if let limit { sql += " LIMIT \(limit)" }
        return try db.query(sql, values).map(Self.runRecord)
    }

    /// Runs waiting for an instance, oldest first: the planner's queue.
    public func waitingRuns() throws -> [RunRecord] {
        try db.query("""
            SELECT \(Self.runColumns) FROM runs WHERE status IN ('submitted', 'pending', 'provisioning')
            ORDER BY submitted_at, id
            """).map(Self.runRecord)
    }

    /// What a reconcile pass needs of each waiting run besides the planner's input, in
    /// queue order, without decoding every run's commands, requirements and environment
    /// (a queue of 10,000 runs is read several times a pass). `stopRequestedOnly`: just
    /// the runs the user stopped.
    public func waitingRunSummaries(stopRequestedOnly: Bool = false) throws -> [WaitingRunSummary] {
        try db.query("""
            SELECT id, status, reason, stage, stop_requested FROM runs WHERE status IN ('submitted', 'pending', 'provisioning')
            \(stopRequestedOnly ? "AND stop_requested = 1" : "") ORDER BY submitted_at, id
            """).map { row in
            WaitingRunSummary(id: row[0].text ?? "", status: RunStatus(rawValue: row[1].text ?? "") ?? .pending,
                              reason: row[2].text, stage: row[3].text, stopRequested: (row[4].integer ?? 0) != 0)
        }
    }

    /// The planner's queue: each waiting run's ID, requirements and stop flag, oldest
    /// first. Requirements are decoded once per distinct JSON text (a queue's runs mostly
    /// share a few), and nothing else of a run is decoded.
    public func waitingRunRequirements() throws -> [(id: String, requirements: ResourceRequirements, stopRequested: Bool)] {
        var decoded: [String: ResourceRequirements] = [:]
        return try db.query("""
            SELECT id, requirements, stop_requested FROM runs WHERE status IN ('submitted', 'pending', 'provisioning')
            ORDER BY submitted_at, id
            """).map { row in
            let id = row[0].text ?? ""
            let text = row[1].text ?? "{}"
            let requirements = try decoded[text] ?? Self.storedRequirements(text, runID: id)
            decoded[text] = requirements
            return (id, requirements, (row[2].integer ?? 0) != 0)
        }
    }

    public func setRunStatus(_ id: String, _ status: RunStatus, reason: String? = nil, instanceID: String? = nil,
                             exitCode: Int? = nil, at now: Date = Date()) throws {
        try db.query("""
            UPDATE runs SET status = ?, reason = ?, instance_id = ?, exit_code = COALESCE(?, exit_code), updated_at = ?,
            finished_at = CASE WHEN ? = 1 THEN ? ELSE finished_at END WHERE id = ?
            """, [.text(status.rawValue), reason.map(SQLiteValue.text) ?? .null, instanceID.map(SQLiteValue.text) ?? .null,
                  exitCode.map { .integer(Int64($0)) } ?? .null, .real(now.timeIntervalSince1970),
                  .integer(status.isFinished ? 1 : 0), .real(now.timeIntervalSince1970), .text(id)])
    }

    /// `setRunReason` for many runs that get the same status and reason, a few hundred
    /// per statement: a long queue's first pass sets tens of thousands, and on Postgres
    /// each statement is a round trip. The status test is an expression (`status || ''`)
    /// so that SQLite looks the runs up by ID: on the status index it would read every
    /// waiting run for each statement (3.6 s instead of 0.2 s for 90,000 runs).
    public func setRunReasons(_ ids: [String], status: RunStatus, reason: String?) throws {
        let reasonValue = reason.map(SQLiteValue.text) ?? .null
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = ids[start..<min(start + 500, ids.count)]
            try db.query("""
                UPDATE runs SET status = ?, reason = ? WHERE id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))
                AND (status IS DISTINCT FROM ? OR reason IS DISTINCT FROM ?) AND (status || '') IN ('submitted', 'pending', 'provisioning')
                """, [.text(status.rawValue), reasonValue] + chunk.map { .text($0) } + [.text(status.rawValue), reasonValue])
        }
    }

    /// Updates the status and reason of a run that is still waiting, when they changed.
    /// A plan made a moment ago must not move a run that has since started or ended.
    public func setRunReason(_ id: String, status: RunStatus, reason: String?) throws {
        try db.query("""
            UPDATE runs SET status = ?, reason = ? WHERE id = ? AND (status IS DISTINCT FROM ? OR reason IS DISTINCT FROM ?)
            AND status IN ('submitted', 'pending', 'provisioning')
            """,
                     [.text(status.rawValue), reason.map(SQLiteValue.text) ?? .null, .text(id), .text(status.rawValue),
                      reason.map(SQLiteValue.text) ?? .null])
    }

    /// Starts the next attempt on an instance; returns the attempt number, or nil when
    /// the run is no longer waiting (it was stopped since the plan was made).
    public func startAttempt(_ id: String, on instanceID: String, at now: Date = Date()) throws -> Int? {
        try db.query("""
            UPDATE runs SET status = 'running', reason = NULL, instance_id = ?, attempt = attempt + 1, updated_at = ?
            WHERE id = ? AND status IN ('submitted', 'pending', 'provisioning') AND stop_requested = 0
            RETURNING attempt
            """, [.text(instanceID), .real(now.timeIntervalSince1970), .text(id)]).first?.first?.integer.map(Int.init)
    }

    /// Counts an attempt lost to a vanished instance; returns how many there have been.
    @discardableResult
    public func countInterruption(_ id: String) throws -> Int {
        try db.query("UPDATE runs SET interruptions = interruptions + 1 WHERE id = ?", [.text(id)])
        return Int(try db.query("SELECT interruptions FROM runs WHERE id = ?", [.text(id)]).first?.first?.integer ?? 0)
    }

    public func requestStop(_ id: String) throws {
        try db.query("UPDATE runs SET stop_requested = 1 WHERE id = ?", [.text(id)])
    }

    // MARK: logs

    /// Appends to a run's log; every attempt's output stays.
    public func appendLog(runID: String, attempt: Int, stream: LogEntry.Stream, text: String, at now: Date = Date()) throws {
        try db.query("""
            INSERT INTO run_logs(run_id, seq, attempt, stream, text, at)
            VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_logs WHERE run_id = ?), ?, ?, ?, ?)
            """, [.text(runID), .text(runID), .integer(Int64(attempt)), .text(stream.rawValue), .text(text),
                  .real(now.timeIntervalSince1970)])
    }

    /// Log entries after `seq`, in order (for `dstack logs --follow`).
    public func logs(runID: String, after seq: Int = 0) throws -> [LogEntry] {
        try db.query("SELECT seq, attempt, stream, text, at FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq",
                     [.text(runID), .integer(Int64(seq))]).map { row in
            LogEntry(seq: Int(row[0].integer ?? 0), attempt: Int(row[1].integer ?? 0),
                     stream: LogEntry.Stream(rawValue: row[2].text ?? "") ?? .system, text: row[3].text ?? "",
                     at: Date(timeIntervalSince1970: row[4].real ?? 0))
        }
    }

    /// A row that does not read as a run is an error naming the run and the column,
    /// never a run with a default in its place.
    private static func runRecord(_ row: [SQLiteValue]) throws -> RunRecord {
        guard let id = row[0].text else { throw StateError.badValue(table: "runs", row: "?", column: "id", detail: "missing") }
        func bad(_ column: String, _ detail: String) -> StateError {
            StateError.badValue(table: "runs", row: id, column: column, detail: detail)
        }
        func decoded<T: Decodable>(_ type: T.Type, _ index: Int, _ column: String) throws -> T {
            do {
                return try JSONValueDecoder().decode(T.self, from: row[index].text ?? "null")
            } catch {
                throw bad(column, "\(error)")
            }
        }
        guard let status = RunStatus(rawValue: row[4].text ?? "") else { throw bad("status", "'\(row[4].text ?? "null")' is no run status") }
        guard let submitted = row[10].real, let updated = row[11].real else { throw bad("submitted_at", "not a time") }
        let code = try row[15].text.map { sha -> ShippedCode in
            guard ShippedCode.isValidHash(sha), let size = row[16].integer else { throw bad("code_sha256", "'\(sha)' with no size") }
            return ShippedCode(sha256: sha, size: Int(size))
        }
        return RunRecord(id: id, workflow: row[1].text, commands: try decoded([String].self, 2, "commands"),
                         requirements: try storedRequirements(row[3].text ?? "null", runID: id),
                         environment: try decoded([String: String].self, 14, "env"), code: code,
                         status: status, reason: row[5].text, instanceID: row[6].text,
                         attempt: Int(row[7].integer ?? 0), exitCode: row[8].integer.map(Int.init),
                         stopRequested: (row[9].integer ?? 0) != 0,
                         submittedAt: Date(timeIntervalSince1970: submitted),
                         updatedAt: Date(timeIntervalSince1970: updated),
                         finishedAt: row[12].real.map(Date.init(timeIntervalSince1970:)), stage: row[13].text,
                         submittedBy: row[17].text, interruptions: Int(row[18].integer ?? 0), interruptedBy: row[19].text,
                         retryPolicy: try row[20].text.map { text in
                             guard let policy = RunRetryPolicy(storedText: text) else { throw bad("retry_policy", "'\(text)' is no retry policy") }
                             return policy
                         }, errorRetries: Int(row[21].integer ?? 0))
    }

    /// The requirements column, as `ResourceRequirements.json` writes it.
    static func storedRequirements(_ text: String, runID: String) throws -> ResourceRequirements {
        struct Stored: Decodable {
            var instanceType: String?
            var cpu: Int?
            var memoryMib: Int?
            var gpu: Int?
            var diskGb: Int?
        }
        do {
            let stored = try JSONValueDecoder().decode(Stored.self, from: text)
            return ResourceRequirements(instanceType: stored.instanceType, cpus: stored.cpu, memoryMiB: stored.memoryMib,
                                        gpus: stored.gpu, diskGB: stored.diskGb)
        } catch {
            throw StateError.badValue(table: "runs", row: runID, column: "requirements", detail: "\(error)")
        }
    }
}

/// A waiting run as `waitingRunSummaries` reads it.
public struct WaitingRunSummary: Sendable, Equatable {
    public var id: String
    public var status: RunStatus
    public var reason: String?
    public var stage: String?
    public var stopRequested: Bool
}
