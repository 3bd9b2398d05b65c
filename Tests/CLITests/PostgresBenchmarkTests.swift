import DstackTesting
import Foundation
import XCTest

/// Issue 10's benchmarks at a tiny size, so their machinery keeps working: each starts a
/// throwaway PostgreSQL 15 of its own (as `make test` installs it).
final class PostgresBenchmarkTests: XCTestCase {
    /// `pass-scale`: a state filled through the state layer, copied to Postgres, and
    /// steady reconcile passes timed on both backends.
    func testPassScaleTimesSteadyPassesOnSQLiteAndPostgres() throws {
        let result = try runCommand(BuiltProducts.path("dstack-benchmarks"),
                                    ["pass-scale", "--instances", "20", "--runs", "60", "--passes", "2"], timeout: 300)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("20 instances (all busy, every type at its max) and 60 runs (20 running, 40 waiting)"),
                      result.stdout)
        XCTAssertTrue(result.stdout.contains("| SQLite | "), result.stdout)
        XCTAssertTrue(result.stdout.contains("| PostgreSQL 15 | "), result.stdout)
        XCTAssertTrue(result.stdout.contains("every steady pass launched, assigned and terminated nothing (checked)"), result.stdout)
    }

    /// `replicas`: three release-style servers on one database, both routes under a
    /// closed-loop load, run submission at a fixed rate (open loop), and one kill of the
    /// leader that another replica takes over from.
    func testReplicasMeasuresBothRoutesAndAFailover() throws {
        let result = try runCommand(BuiltProducts.path("dstack-benchmarks"),
                                    ["replicas", "--replicas", "3", "--runs", "10", "--clients", "3", "--seconds", "2", "--rates", "20", "--kills", "1",
                                     "--server", BuiltProducts.path("dstack-server"), "--dstack", BuiltProducts.path("dstack")],
                                    timeout: 300)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("| ps (GET /api/v1/runs) | "), result.stdout)
        XCTAssertTrue(result.stdout.contains("| run submission (POST /api/v1/runs) | "), result.stdout)
        // The open-loop figure is reported beside the closed-loop one, at the rate asked.
        XCTAssertTrue(result.stdout.contains("Closed loop (3 clients"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Open loop (fixed rate"), result.stdout)
        XCTAssertTrue(result.stdout.contains("| run submission (POST /api/v1/runs) | 20/s | "), result.stdout)
        // The runs submitted under load are in state, read back through a replica.
        let atEnd = result.stdout.firstMatch(of: #/\((\d+) runs at the end\)/#).flatMap { Int($0.1) }
        XCTAssertGreaterThan(try XCTUnwrap(atEnd, result.stdout), 10)
        // One kill, and a replica took over and ran a pass.
        XCTAssertTrue(result.stdout.contains("| 1 | "), result.stdout)
        XCTAssertTrue(result.stdout.contains("goal failover < 15 s: "), result.stdout)
    }
}
