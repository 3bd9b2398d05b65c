import XCTest

/// `--help` reads like the seed document on every command.
final class HelpTests: CLITestCase {
    func testAllowHelpMatchesTheSeedDocument() throws {
        let help = try ok("autoscale", "allow", "--help")
        XCTAssertTrue(help.hasPrefix("usage: dstack autoscale allow --max MAX INSTANCE_TYPE\n"), help)
        XCTAssertTrue(help.contains("positional arguments:\n  INSTANCE_TYPE"), help)
        XCTAssertTrue(help.contains("optional arguments:"), help)
        XCTAssertTrue(help.contains("--max MAX"), help)
        XCTAssertTrue(help.contains("The maximum number of instances"), help)
    }

    func testEveryCommandHasArgparseStyleHelp() throws {
        for command in [["--help"], ["autoscale", "--help"], ["autoscale", "info", "--help"], ["autoscale", "clear", "--help"],
                        ["autoscale", "disable", "--help"], ["autoscale", "enable", "--help"], ["instances", "--help"],
                        ["instances", "request", "--help"], ["aws", "configure", "--help"], ["local", "configure", "--help"],
                        ["gcp", "configure", "--help"], ["azure", "configure", "--help"]] {
            let result = try dstack(command)
            XCTAssertEqual(result.status, 0, "\(command): \(result)")
            XCTAssertTrue(result.stdout.hasPrefix("usage: dstack"), "\(command): \(result.stdout)")
            XCTAssertFalse(result.stdout.contains("<"), "\(command) shows ArgumentParser's <placeholders>: \(result.stdout)")
        }
    }

    func testConfigureHelpListsTheVendorsFields() throws {
        let help = try ok("azure", "configure", "--help")
        for flag in ["--subscription-id", "--tenant-id", "--client-id", "--client-secret", "--location", "--no-verify"] {
            XCTAssertTrue(help.contains(flag), "missing \(flag) in \(help)")
        }
    }

    func testTheRootHelpNamesEveryVendor() throws {
        let help = try ok("--help")
        for vendor in ["aws", "local", "gcp", "azure"] { XCTAssertTrue(help.contains(vendor), help) }
    }
}
