import DstackWire
import Foundation

/// What a run uploads and starts from, and its manifest (`run_artifacts`,
/// `artifact_files`): the manifest is written once, last, by the attempt that uploaded.
public struct RunArtifactsRecord: Sendable, Equatable {
    public enum State: String, Sendable { case uploading, complete, incomplete }
    public var runID: String
    public var paths: [String]
    /// The runs whose artifacts the run starts with, resolved at submission.
    public var deps: [String]
    /// The attempt that uploads (or uploaded), once one has begun.
    public var attempt: Int?
    public var state: State?
    public var reason: String?
    /// `server` or the bucket's display name, fixed when the first upload begins.
    public var location: String?

    public init(runID: String, paths: [String], deps: [String], attempt: Int?, state: State?, reason: String?, location: String?) {
        self.runID = runID
        self.paths = paths
        self.deps = deps
        self.attempt = attempt
        self.state = state
        self.reason = reason
        self.location = location
    }
}

public struct ArtifactFileRecord: Sendable, Equatable {
    public var path: String
    public var size: Int
    public var sha256: String

    public init(path: String, size: Int, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// A multipart upload open in a bucket.
public struct ArtifactUploadRecord: Sendable, Equatable {
    public var runID: String
    public var path: String
    public var attempt: Int
    public var uploadID: String
    public var size: Int
    public var sha256: String
    public var location: String

    public init(runID: String, path: String, attempt: Int, uploadID: String, size: Int, sha256: String, location: String) {
        self.runID = runID
        self.path = path
        self.attempt = attempt
        self.uploadID = uploadID
        self.size = size
        self.sha256 = sha256
        self.location = location
    }
}

/// How many files, how big, and the state, for `dstack ps`.
public struct ArtifactCounts: Sendable, Equatable {
    public var count: Int
    public var size: Int

    public init(count: Int, size: Int) {
        self.count = count
        self.size = size
    }
}

extension StateTransaction {
    /// Records what a new run uploads and starts from (nothing is stored for a run with neither).
    public func setRunArtifacts(runID: String, paths: [String], deps: [String]) throws {
        guard !paths.isEmpty || !deps.isEmpty else { return }
        try db.query("INSERT INTO run_artifacts(run_id, paths, deps) VALUES (?, ?, ?)",
                     [.text(runID), .text(Self.jsonList(paths)), .text(Self.jsonList(deps))])
    }

    public func runArtifacts(_ runID: String) throws -> RunArtifactsRecord? {
        try db.query("SELECT run_id, paths, deps, attempt, state, reason, location FROM run_artifacts WHERE run_id = ?",
                     [.text(runID)]).first.map(Self.artifactsRecord)
    }

    /// The records of several runs at once (a `dstack ps` page), with their manifests' counts.
    public func runArtifacts(_ runIDs: [String]) throws -> [String: (RunArtifactsRecord, ArtifactCounts)] {
        guard !runIDs.isEmpty else { return [:] }
        var result: [String: (RunArtifactsRecord, ArtifactCounts)] = [:]
        for chunk in stride(from: 0, to: runIDs.count, by: 500).map({ Array(runIDs[$0..<min($0 + 500, runIDs.count)]) }) {
            let marks = chunk.map { _ in "?" }.joined(separator: ",")
            let rows = try db.query("""
                SELECT a.run_id, a.paths, a.deps, a.attempt, a.state, a.reason, a.location,
                       (SELECT COUNT(*) FROM artifact_files f WHERE f.run_id = a.run_id),
                       (SELECT COALESCE(SUM(size), 0) FROM artifact_files f WHERE f.run_id = a.run_id)
                FROM run_artifacts a WHERE a.run_id IN (\(marks))
                """, chunk.map { .text($0) })
            for row in rows {
                let record = try Self.artifactsRecord(row)
                result[record.runID] = (record, ArtifactCounts(count: Int(row[7].integer ?? 0), size: Int(row[8].integer ?? 0)))
            }
        }
        return result
    }

    /// Marks the attempt's upload as begun and fixes where its files go; returns the
    /// location in force (an upload begun earlier by the same attempt keeps its own). A
    /// new attempt starts from an empty manifest.
    @discardableResult
    public func beginArtifactUpload(runID: String, attempt: Int, location: String) throws -> String {
        guard let current = try runArtifacts(runID) else {
            throw StateError.badValue(table: "run_artifacts", row: runID, column: "run_id", detail: "the run declares no artifacts")
        }
        if current.attempt == attempt, current.state == .uploading, let kept = current.location { return kept }
        try db.query("DELETE FROM artifact_files WHERE run_id = ?", [.text(runID)])
        try db.query("UPDATE run_artifacts SET attempt = ?, state = 'uploading', reason = NULL, location = ? WHERE run_id = ?",
                     [.integer(Int64(attempt)), .text(location), .text(runID)])
        return location
    }

    /// The manifest, written last: the files that made it and whether that is all.
    public func recordArtifactManifest(runID: String, complete: Bool, reason: String?, files: [ArtifactFileRecord]) throws {
        try db.query("DELETE FROM artifact_files WHERE run_id = ?", [.text(runID)])
        for file in files {
            try db.query("INSERT INTO artifact_files(run_id, path, size, sha256) VALUES (?, ?, ?, ?)",
                         [.text(runID), .text(file.path), .integer(Int64(file.size)), .text(file.sha256)])
        }
        try db.query("UPDATE run_artifacts SET state = ?, reason = ? WHERE run_id = ?",
                     [.text(complete ? "complete" : "incomplete"), complete ? .null : .text(reason ?? "no reason given"),
                      .text(runID)])
    }

    /// Marks artifacts incomplete with a reason (a run that ended without its manifest).
    public func markArtifactsIncomplete(runID: String, reason: String) throws {
        try db.query("UPDATE run_artifacts SET state = 'incomplete', reason = ? WHERE run_id = ?", [.text(reason), .text(runID)])
    }

    public func artifactFiles(_ runID: String) throws -> [ArtifactFileRecord] {
        try db.query("SELECT path, size, sha256 FROM artifact_files WHERE run_id = ? ORDER BY path", [.text(runID)]).map {
            ArtifactFileRecord(path: $0[0].text ?? "", size: Int($0[1].integer ?? 0), sha256: $0[2].text ?? "")
        }
    }

    /// The newest run of `workflow` that ended `done` (only `submittedBy`'s, when given).
    public func latestSuccessfulRun(workflow: String, submittedBy: String?) throws -> String? {
        var sql = "SELECT id FROM runs WHERE workflow = ? AND status = 'done'"
        var values: [SQLiteValue] = [.text(workflow)]
        if let submittedBy {
            sql += " AND submitted_by = ?"
            values.append(.text(submittedBy))
        }
        sql += " ORDER BY finished_at DESC, submitted_at DESC LIMIT 1"
        return try db.query(sql, values).first?.first?.text
    }

    // MARK: multipart uploads

    public func openArtifactUpload(runID: String, path: String) throws -> ArtifactUploadRecord? {
        try db.query("""
            SELECT run_id, path, attempt, upload_id, size, sha256, location FROM artifact_uploads WHERE run_id = ? AND path = ?
            """, [.text(runID), .text(path)]).first.map(Self.uploadRecord)
    }

    public func openArtifactUploads(runID: String) throws -> [ArtifactUploadRecord] {
        try db.query("SELECT run_id, path, attempt, upload_id, size, sha256, location FROM artifact_uploads WHERE run_id = ?",
                     [.text(runID)]).map(Self.uploadRecord)
    }

    public func recordArtifactUpload(_ upload: ArtifactUploadRecord, at now: Date = Date()) throws {
        try db.query("""
            INSERT INTO artifact_uploads(run_id, path, attempt, upload_id, size, sha256, location, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(run_id, path) DO UPDATE SET attempt = excluded.attempt, upload_id = excluded.upload_id,
                size = excluded.size, sha256 = excluded.sha256, location = excluded.location, created_at = excluded.created_at
            """, [.text(upload.runID), .text(upload.path), .integer(Int64(upload.attempt)), .text(upload.uploadID),
                  .integer(Int64(upload.size)), .text(upload.sha256), .text(upload.location), .real(now.timeIntervalSince1970)])
    }

    public func removeArtifactUpload(runID: String, path: String) throws {
        try db.query("DELETE FROM artifact_uploads WHERE run_id = ? AND path = ?", [.text(runID), .text(path)])
    }

    /// Forgets one upload, and only that one (a newer attempt may have opened another for the path).
    public func removeArtifactUpload(runID: String, path: String, uploadID: String) throws {
        try db.query("DELETE FROM artifact_uploads WHERE run_id = ? AND path = ? AND upload_id = ?",
                     [.text(runID), .text(path), .text(uploadID)])
    }

    /// Uploads no runner will complete: their run is no longer running, or runs another attempt.
    public func orphanedArtifactUploads() throws -> [ArtifactUploadRecord] {
        try db.query("""
            SELECT u.run_id, u.path, u.attempt, u.upload_id, u.size, u.sha256, u.location
            FROM artifact_uploads u LEFT JOIN runs r ON r.id = u.run_id
            WHERE r.id IS NULL OR r.status <> 'running' OR r.attempt <> u.attempt
            ORDER BY u.created_at
            """, []).map(Self.uploadRecord)
    }

    // MARK: rows

    private static func jsonList(_ items: [String]) -> String {
        JSONValue.array(items.map(JSONValue.string)).serialized()
    }

    private static func artifactsRecord(_ row: [SQLiteValue]) throws -> RunArtifactsRecord {
        let id = row[0].text ?? "?"
        func list(_ index: Int, _ column: String) throws -> [String] {
            do {
                return try JSONValueDecoder().decode([String].self, from: row[index].text ?? "null")
            } catch {
                throw StateError.badValue(table: "run_artifacts", row: id, column: column, detail: "\(error)")
            }
        }
        var state: RunArtifactsRecord.State? = nil
        if let text = row[4].text {
            guard let known = RunArtifactsRecord.State(rawValue: text) else {
                throw StateError.badValue(table: "run_artifacts", row: id, column: "state", detail: "'\(text)' is no artifacts state")
            }
            state = known
        }
        return RunArtifactsRecord(runID: id, paths: try list(1, "paths"), deps: try list(2, "deps"),
                                  attempt: row[3].integer.map(Int.init), state: state, reason: row[5].text, location: row[6].text)
    }

    private static func uploadRecord(_ row: [SQLiteValue]) -> ArtifactUploadRecord {
        ArtifactUploadRecord(runID: row[0].text ?? "", path: row[1].text ?? "", attempt: Int(row[2].integer ?? 0),
                             uploadID: row[3].text ?? "", size: Int(row[4].integer ?? 0), sha256: row[5].text ?? "",
                             location: row[6].text ?? "")
    }
}
