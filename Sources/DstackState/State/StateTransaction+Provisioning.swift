import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// A launch batch that closed before the runner meant for a run registered: one failed
/// provisioning attempt of that run.
public struct ProvisioningFailure: Sendable, Equatable {
    public var launchToken: String
    public var instanceType: String
    /// The server URL the batch's instances were told to register with.
    public var serverURL: String?
}

extension StateTransaction {
    /// Records which runs a launch batch is for and the server URL its user data carries,
    /// in the same transaction as the batch's journal entry.
    public func recordLaunchPurpose(token: String, runIDs: [String], serverURL: String?) throws {
        try db.query("UPDATE launches SET server_url = ? WHERE token = ?", [serverURL.map(SQLiteValue.text) ?? .null, .text(token)])
        for runID in runIDs {
            try db.query("INSERT INTO launch_runs(token, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(token), .text(runID)])
        }
    }

    /// The runs each of these batches was launched for, in submission order.
    public func runsLaunchedFor(tokens: [String]) throws -> [String: [String]] {
        var runs: [String: [String]] = [:]
        for token in tokens {
            runs[token] = try db.query("""
                SELECT launch_runs.run_id FROM launch_runs JOIN runs ON runs.id = launch_runs.run_id
                WHERE launch_runs.token = ? ORDER BY runs.submitted_at, runs.id
                """, [.text(token)]).compactMap { $0.first?.text }
        }
        return runs
    }

    /// Counts the batch as a failed provisioning attempt for each of `runIDs`.
    public func markProvisioningFailed(token: String, runIDs: [String]) throws {
        for runID in runIDs {
            try db.query("UPDATE launch_runs SET failed = 1 WHERE token = ? AND run_id = ?", [.text(token), .text(runID)])
        }
    }

    /// Every failed provisioning attempt of a run, oldest first.
    public func provisioningFailures(runID: String) throws -> [ProvisioningFailure] {
        try db.query("""
            SELECT launches.token, launches.instance_type, launches.server_url FROM launch_runs
            JOIN launches ON launches.token = launch_runs.token
            WHERE launch_runs.run_id = ? AND launch_runs.failed = 1 ORDER BY launches.created_at
            """, [.text(runID)]).map { row in
            ProvisioningFailure(launchToken: row[0].text ?? "", instanceType: row[1].text ?? "", serverURL: row[2].text)
        }
    }

    /// Where a run is on its way to running, in words (`spot request open (...)`, `booting`, ...);
    /// nil when nothing is known. Written only when it changed.
    public func setRunStage(_ id: String, _ stage: String?) throws {
        try db.query("UPDATE runs SET stage = ? WHERE id = ? AND stage IS DISTINCT FROM ?",
                     [stage.map(SQLiteValue.text) ?? .null, .text(id), stage.map(SQLiteValue.text) ?? .null])
    }
}
