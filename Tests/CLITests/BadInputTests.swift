import DstackTesting
import XCTest

/// Bad input: one clear line on stderr, a non-zero exit, and no change.
final class BadInputTests: CLITestCase {
    override func setUp() {
        super.setUp()
        _ = try? dstack("local", "configure")
        _ = try? dstack("autoscale", "allow", "local", "--max", "1")
    }

    func testAMissingMaxIsRejected() throws {
        let before = snapshot()
        try fails(["autoscale", "allow", "local"], saying: "--max MAX")
        XCTAssertEqual(snapshot(), before)
    }

    func testANegativeMaxIsRejected() throws {
        let before = snapshot()
        try fails(["autoscale", "allow", "local", "--max", "-1"], saying: "--max must be a whole number of 0 or more, got '-1'")
        try fails(["autoscale", "allow", "local", "--max=-3"], saying: "got '-3'")
        XCTAssertEqual(snapshot(), before)
    }

    func testANonIntegerMaxIsRejected() throws {
        let before = snapshot()
        for bad in ["abc", "1.5", "", "2x", "１"] {
            try fails(["autoscale", "allow", "local", "--max", bad], saying: "--max must be a whole number")
        }
        XCTAssertEqual(snapshot(), before)
    }

    func testUsageErrorsExitWithTwo() throws {
        XCTAssertEqual(try dstack("autoscale", "allow", "local", "--max", "x").status, 2)
        XCTAssertEqual(try dstack("autoscale", "frobnicate").status, 2)
    }

    func testAnUnknownVendorIsRejected() throws {
        let before = snapshot()
        try fails(["oracle", "configure"], saying: "unknown vendor 'oracle'; dstack knows aws, local, gcp, azure")
        try fails(["local", "configure", "--colour", "red"], saying: "has no option --colour")
        XCTAssertEqual(snapshot(), before)
    }

    func testAnUnknownCommandIsRejected() throws {
        try fails(["frobnicate"], saying: "unknown command 'frobnicate'")
    }

    func testAllowWithNoProviderConfiguredSaysHowToConfigureOne() throws {
        stopBackgroundServer() // a server of the home would outlive it, holding files no longer there
        try FileManager.default.removeItem(at: home)
        try fails(["autoscale", "allow", "m5.xlarge", "--max", "1"],
                  saying: "no cloud provider is configured; run 'dstack <vendor> configure' first, where <vendor> is one of aws, local, gcp, azure")
    }

    func testInfoWithNoProviderConfiguredShowsNoProvider() throws {
        stopBackgroundServer() // a server of the home would outlive it, holding files no longer there
        try FileManager.default.removeItem(at: home)
        XCTAssertEqual(try ok("autoscale", "info", "--json"), #"{"enabled": true, "provider": null, "rules": []}"# + "\n")
    }

    func testACorruptConfigFileIsNamedAndNeverOverwritten() throws {
        try Data("{ not json".utf8).write(to: configFile)
        let before = snapshot()
        for command in [["autoscale", "allow", "local", "--max", "2"], ["autoscale", "info"], ["local", "configure"],
                        ["autoscale", "clear"], ["autoscale", "disable"]] {
            try fails(command, saying: "the configuration file \(configFile.path) is corrupt")
        }
        XCTAssertEqual(snapshot(), before)
    }

    func testAnUnreadableConfigFileIsNamed() throws {
        // Root reads any file whatever its mode, so a directory stands in for an unreadable file.
        try FileManager.default.removeItem(at: configFile)
        try FileManager.default.createDirectory(at: configFile, withIntermediateDirectories: false)
        try fails(["autoscale", "allow", "local", "--max", "2"], saying: "cannot read the configuration file \(configFile.path)")
    }

    func testACorruptStateDatabaseIsNamedAndNeverOverwritten() throws {
        stopBackgroundServer() // a running server keeps the database it opened
        try FileManager.default.removeItem(at: stateFile)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: stateFile.path + suffix) }
        try Data(repeating: 0x42, count: 4096).write(to: stateFile)
        let before = snapshot()
        for command in [["autoscale", "allow", "local", "--max", "2"], ["autoscale", "info"], ["autoscale", "enable"],
                        ["autoscale", "clear"]] {
            try fails(command, saying: "the state database \(stateFile.path) is corrupt")
        }
        XCTAssertEqual(snapshot(), before)
    }

    func testAnUnwritableHomeIsNamed() throws {
        // Root may write anywhere a mode forbids, but never below a regular file.
        let file = home.appendingPathComponent("not-a-directory")
        try Data("x".utf8).write(to: file)
        let result = try runCommand(BuiltProducts.path("dstack"), ["autoscale", "info"],
                                    environment: ["DSTACK_HOME": file.path + "/home"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("cannot write to the dstack home directory \(file.path)/home"), result.description)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.description)
        let configure = try runCommand(BuiltProducts.path("dstack"), ["local", "configure"], environment: ["DSTACK_HOME": file.path])
        XCTAssertNotEqual(configure.status, 0)
        XCTAssertTrue(configure.stderr.contains("cannot write to the dstack home directory \(file.path): it is not a directory"), configure.description)
    }
}
