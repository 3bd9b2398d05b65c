import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack server migrate-state`: a SQLite installation moved to Postgres reads the same.
final class MigrateStateTests: CLITestCase {
    func testARoundTripShowsTheSameRulesAndRuns() throws {
        commandEnvironment.removeValue(forKey: "DSTACK_DATABASE_URL") // the source is state.db
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let before = try startServer()
        let ids = try (1...2).map { try submit("--", "sh", "-c", "echo run $0", "\($0)", server: before) }
        try eventually("both runs to finish") { try ids.allSatisfy { try status($0) == "done" } }
        let info = try ok("autoscale", "info", "--json")
        let ps = try ok("ps", "--all", "--json")
        before.stop()

        let target = try ThrowawayPostgres.shared().makeDatabase()
        let migrate = ["server", "migrate-state", "--from", "sqlite:\(stateFile.path)", "--to", target]
        let copied = try dstack(migrate)
        XCTAssertEqual(copied.status, 0, copied.description)
        XCTAssertTrue(copied.stdout.contains("every count matches"), copied.stdout)
        XCTAssertTrue(copied.stdout.contains("runs: 2"), copied.stdout)
        XCTAssertFalse(copied.stdout.contains(try DatabaseURL(parsing: target).password ?? "?"), "the password is never shown")

        // Into a database that now holds the state: refused, one sentence, exit 1.
        let again = try dstack(migrate)
        XCTAssertEqual(again.status, 1, again.description)
        XCTAssertEqual(again.stderr.split(separator: "\n").count, 1, again.description)
        XCTAssertTrue(again.stderr.contains("is not empty"), again.description)

        // The SQLite file goes aside: the server after the move reads only Postgres.
        try FileManager.default.moveItem(at: stateFile, to: home.appendingPathComponent("state.db.moved"))
        commandEnvironment["DSTACK_DATABASE_URL"] = target
        try startServer()
        XCTAssertEqual(try ok("autoscale", "info", "--json"), info)
        XCTAssertEqual(try ok("ps", "--all", "--json"), ps)
        XCTAssertTrue(try ok("logs", ids[0]).contains("run 1"))
        XCTAssertTrue(try ok("logs", ids[1]).contains("run 2"))
    }

    func testABadSourceOrTargetIsOneSentence() throws {
        try fails(["server", "migrate-state", "--from", "sqlite:/nonexistent/state.db", "--to", "postgresql://u:p@127.0.0.1/d"],
                  saying: "no state database at /nonexistent/state.db")
        let result = try dstack(["server", "migrate-state", "--from", "state.db", "--to", "postgresql://u:p@127.0.0.1/d"])
        XCTAssertEqual(result.status, 2, result.description)
        XCTAssertTrue(result.stderr.contains("--from must be sqlite:PATH"), result.description)
    }
}
