import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack ps` and `dstack autoscale info` show the cost model's numbers, in tables to
/// four places and in `--json` as exact decimal dollars. The local provider has no prices:
/// its costs are unknown ("-", null), never invented. Then the state is given a price
/// history for the instance the run used, as a cloud's would be, and the same commands
/// show what that history makes of the instance's life.
final class CostCLITests: CLITestCase {
    func testPsAndAutoscaleInfoShowTheCostModelsNumbers() throws {
        guard commandEnvironment["DSTACK_DATABASE_URL"] == nil else { throw XCTSkip("pokes state.db with sqlite3") }
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        var server = try startServer("--idle-timeout", "2s")
        let id = try submit("--", "true", server: server)
        try eventually("the run to finish") { try status(id) == "done" }

        XCTAssertEqual(try run(id)?["cost_dollars"], .null, "the local provider reports no prices")
        let unknown = try ok("ps")
        XCTAssertEqual(cell(unknown, column: "COST", row: id), "-", unknown)
        let rule = try XCTUnwrap(JSONValue.parse(try ok("autoscale", "info", "--json"))["rules"]?.arrayValue?.first)
        XCTAssertEqual(rule["spend_today_dollars"], .null)
        XCTAssertEqual(rule["spend_last30_days_dollars"], .null)

        try eventually("the idle runner to be torn down and its life to end") {
            try liveInstances().isEmpty && sqlite("SELECT COUNT(*) FROM instance_lives WHERE ended_at IS NULL") == "0"
        }
        server.stop()
        XCTAssertEqual(try sqlite("SELECT COUNT(*) FROM instance_lives"), "1")
        XCTAssertEqual(try sqlite("SELECT COUNT(*) FROM run_usage WHERE run_id = '\(id)' AND ended_at IS NOT NULL"), "1",
                       "the run's time on the instance, ended when it finished")

        // Two days ago: the instance lived 3 h in zone local-a, the run held it from 1 h in
        // to 2 h in, and the price went from $0.25/h to $0.50/h halfway through its life.
        let end = Date().addingTimeInterval(-2 * 86_400).timeIntervalSince1970.rounded()
        try sqlite("""
            UPDATE instance_lives SET zone = 'local-a', started_at = \(end - 3 * 3600), ended_at = \(end);
            UPDATE run_usage SET started_at = \(end - 2 * 3600), ended_at = \(end - 3600);
            INSERT INTO spot_prices(instance_type, zone, at, micros_per_hour) VALUES ('local', 'local-a', \(end - 86_400), 250000);
            INSERT INTO spot_prices(instance_type, zone, at, micros_per_hour) VALUES ('local', 'local-a', \(end - 1.5 * 3600), 500000);
            """)
        server = try startServer()

        // The run: 30 min at 0.25 + 30 min at 0.50.
        XCTAssertEqual(try run(id)?["cost_dollars"]?.stringValue, "0.375000")
        let table = try ok("ps")
        XCTAssertEqual(cell(table, column: "COST", row: id), "$0.3750", table)
        // The rule: 1 h booting and idle at 0.25 + 1 h idle at 0.50; nothing of it today.
        let info = try ok("autoscale", "info", "--json")
        let priced = try XCTUnwrap(JSONValue.parse(info)["rules"]?.arrayValue?.first)
        XCTAssertEqual(priced["spend_today_dollars"]?.stringValue, "0.000000", info)
        XCTAssertEqual(priced["spend_last30_days_dollars"]?.stringValue, "0.750000", info)
        let infoTable = try ok("autoscale", "info")
        XCTAssertEqual(cell(infoTable, column: "SPEND TODAY", row: "local "), "$0.0000", infoTable)
        XCTAssertEqual(cell(infoTable, column: "SPEND 30D", row: "local "), "$0.7500", infoTable)

        // The page's overview and /metrics read the same model: the whole life is 1.5 h
        // at 0.25 + 1.5 h at 0.50.
        let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func get(_ path: String) throws -> String {
            try runCommand("/usr/bin/curl", ["-sf", "-H", "Authorization: Bearer \(token)", server.url + path]).stdout
        }
        let overview = try JSONValue.parse(try get("/api/v1/overview"))
        XCTAssertEqual(overview["rules"]?.arrayValue?.first?["spend_last30_days_dollars"]?.stringValue, "0.750000", "\(overview)")
        let metrics = try get("/metrics")
        XCTAssertTrue(metrics.split(separator: "\n").contains("dstack_spend_dollars 1.125"), metrics)
        server.stop()
    }

    /// The word in `column` of the table's line that starts with `row`.
    private func cell(_ table: String, column: String, row: String) -> String? {
        let lines = table.split(separator: "\n").map(String.init)
        guard let header = lines.first(where: { $0.contains(column) }), let start = header.range(of: column)?.lowerBound,
              let line = lines.first(where: { $0.hasPrefix(row) }) else { return nil }
        let offset = header.distance(from: header.startIndex, to: start)
        guard line.count > offset else { return nil }
        return line.dropFirst(offset).split(separator: " ").first.map(String.init)
    }

    @discardableResult
    private func sqlite(_ sql: String) throws -> String {
        let result = try runCommand("/usr/bin/sqlite3", [stateFile.path, sql])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
