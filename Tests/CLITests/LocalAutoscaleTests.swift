import DstackCore
import XCTest

/// The seed document's autoscale commands, end to end on the local provider.
final class LocalAutoscaleTests: CLITestCase {
    func testConfigureLocalMakesItTheActiveProvider() throws {
        let out = try ok("local", "configure")
        XCTAssertTrue(out.contains("Local is now the active provider"), out)
        XCTAssertEqual(try ok("autoscale", "info", "--json"), #"{"enabled": true, "provider": "local", "rules": []}"# + "\n")
    }

    func testTheTour() throws {
        try ok("local", "configure")
        XCTAssertEqual(try ok("autoscale", "allow", "local", "--max", "2"), "Allowed up to 2 instances of local.\n")
        XCTAssertEqual(try ok("autoscale", "info", "--json"),
                       #"{"enabled": true, "provider": "local", "rules": [{"instance_type": "local", "max": 2, "instances": 0, "on_rebalance": "ignore", "spot_price": null, "zone": null, "spend_today_dollars": null, "spend_last30_days_dollars": null}]}"# + "\n")
        let table = try ok("autoscale", "info")
        XCTAssertTrue(table.contains("Autoscaling is enabled; provider: local."), table)
        XCTAssertTrue(table.contains("INSTANCE TYPE  MAX  INSTANCES  ON REBALANCE  SPOT PRICE  ZONE  SPEND TODAY  SPEND 30D\nlocal          2    0          ignore        -           -     -            -"), table)

        XCTAssertEqual(try ok("autoscale", "disable"), "Autoscaling is now disabled.\n")
        XCTAssertEqual(try ok("autoscale", "disable"), "Autoscaling was already disabled.\n")
        XCTAssertTrue(try ok("autoscale", "info", "--json").hasPrefix(#"{"enabled": false"#))
        XCTAssertEqual(try ok("autoscale", "enable"), "Autoscaling is now enabled.\n")
        XCTAssertEqual(try ok("autoscale", "enable"), "Autoscaling was already enabled.\n")
        XCTAssertTrue(try ok("autoscale", "info", "--json").contains(#""max": 2"#), "enable/disable keep the rules")

        XCTAssertEqual(try ok("autoscale", "clear"), "Deleted 1 rule.\nNo instances were running.\n")
        XCTAssertEqual(try ok("autoscale", "info", "--json"), #"{"enabled": true, "provider": "local", "rules": []}"# + "\n")
    }

    /// The server's planner picks which instances go (idle ones first, then the newest),
    /// and `allow` answers once that pass has sent the terminations.
    func testLoweringTheMaxShutsDownTheExtraInstancesAtOnce() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let ids = try [ok("instances", "request", "local"), ok("instances", "request", "local")].map { out in
            try XCTUnwrap(out.split(whereSeparator: { $0 == " " || $0 == "\n" }).last { $0.hasPrefix("local-") })
                .trimmingCharacters(in: .punctuationCharacters)
        }
        XCTAssertTrue(try ok("autoscale", "info", "--json").contains(#""instances": 2"#))

        let lowered = try ok("autoscale", "allow", "local", "--max", "1")
        XCTAssertTrue(lowered.contains("Changed the max for local from 2 to 1."), lowered)
        XCTAssertTrue(ids.contains { lowered.contains("Shut down 1 instance of local: \($0).") }, lowered)
        XCTAssertTrue(try ok("autoscale", "info", "--json").contains(#""max": 1, "instances": 1"#))

        let removed = try ok("autoscale", "allow", "local", "--max", "0")
        XCTAssertTrue(removed.contains("Removed the rule for local."), removed)
        XCTAssertTrue(removed.contains("Shut down 1 instance"), removed)
        XCTAssertEqual(try ok("instances", "--json"), "[]\n")
    }

    func testTheMaxCapsManualLaunches() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        try ok("instances", "request", "local")
        try fails(["instances", "request", "local"], saying: "local is at its max of 1")
        try fails(["instances", "request", "other"], saying: "no rule allows other")
    }

    func testDisableAndClearShutDownEveryInstance() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        try ok("instances", "request", "local", "--count", "2")
        XCTAssertEqual(try ok("autoscale", "disable"), "Autoscaling is now disabled.\nShut down 2 instances.\n")
        try fails(["instances", "request", "local"], saying: "autoscaling is disabled")
        try ok("autoscale", "enable")
        try ok("instances", "request", "local")
        XCTAssertEqual(try ok("autoscale", "clear"), "Deleted 1 rule.\nShut down 1 instance.\n")
        XCTAssertEqual(try ok("instances", "--json"), "[]\n")
    }

    func testAnUnsupportedInstanceTypeIsRejectedAndChangesNothing() throws {
        try ok("local", "configure")
        let before = snapshot()
        try fails(["autoscale", "allow", "m5.bogus", "--max", "1"], saying: "instance type m5.bogus is not supported")
        XCTAssertEqual(snapshot(), before)
    }

    func testRemovingARuleThatDoesNotExistSaysSo() throws {
        try ok("local", "configure")
        XCTAssertEqual(try ok("autoscale", "allow", "local", "--max", "0"), "There was no rule for local; nothing to remove.\n")
    }
}
