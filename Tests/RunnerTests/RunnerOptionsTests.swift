import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

final class RunnerOptionsTests: XCTestCase {
    func testDurationsAcceptSecondsMinutesHoursAndBareNumbers() {
        XCTAssertEqual(RunnerDuration.parse("30s"), 30)
        XCTAssertEqual(RunnerDuration.parse("5m"), 300)
        XCTAssertEqual(RunnerDuration.parse("1h"), 3600)
        XCTAssertEqual(RunnerDuration.parse("45"), 45)
        XCTAssertEqual(RunnerDuration.parse("0.5s"), 0.5)
    }

    func testDurationsRejectNonsenseZeroAndNegatives() {
        for bad in ["", "s", "5x", "0", "0s", "-5s", "inf", "1e3", "0x10", "5 m", "m5", "nan"] {
            XCTAssertNil(RunnerDuration.parse(bad), bad)
        }
    }

    func testDefaultsMatchTheIssue() throws {
        guard case .run(let options) = RunnerOptions.parse(["--state-dir", "/tmp/x"]) else { return XCTFail() }
        XCTAssertNil(options.instanceID)
        XCTAssertNil(options.serverURL)
        XCTAssertEqual(options.orphanAction, .poweroff)
        XCTAssertEqual(options.orphanTimeout, 1800)
        XCTAssertEqual(options.pollWait, 25)
        XCTAssertEqual(options.heartbeatInterval, 5)
        XCTAssertEqual(options.metadataURL, "http://169.254.169.254")
    }

    func testTheRegistrationTokenMayComeFromTheEnvironment() throws {
        let parsed = RunnerOptions.parse(["--state-dir", "/s", "--server", "http://h:3000"],
                                         environment: ["DSTACK_REGISTRATION_TOKEN": "from-env"])
        guard case .run(let options) = parsed else { return XCTFail("\(parsed)") }
        XCTAssertEqual(options.registrationToken, "from-env")
        let flagWins = RunnerOptions.parse(["--state-dir", "/s", "--server", "http://h", "--registration-token", "flag"],
                                           environment: ["DSTACK_REGISTRATION_TOKEN": "from-env"])
        guard case .run(let fromFlag) = flagWins else { return XCTFail("\(flagWins)") }
        XCTAssertEqual(fromFlag.registrationToken, "flag")
    }

    func testEveryFlagInBothSpellings() throws {
        let parsed = RunnerOptions.parse([
            "--instance-id", "i-1", "--state-dir=/s", "--server", "http://h:3000", "--registration-token=t",
            "--orphan-action", "exit", "--orphan-timeout", "2m", "--poll-wait=10", "--heartbeat-interval", "1h",
            "--metadata-url", "http://127.0.0.1:9",
        ])
        guard case .run(let options) = parsed else { return XCTFail("\(parsed)") }
        XCTAssertEqual(options.instanceID, "i-1")
        XCTAssertEqual(options.stateDirectory, "/s")
        XCTAssertEqual(options.serverURL, "http://h:3000")
        XCTAssertEqual(options.registrationToken, "t")
        XCTAssertEqual(options.orphanAction, .exit)
        XCTAssertEqual(options.orphanTimeout, 120)
        XCTAssertEqual(options.pollWait, 10)
        XCTAssertEqual(options.heartbeatInterval, 3600)
        XCTAssertEqual(options.metadataURL, "http://127.0.0.1:9")
    }

    func testAnEmptyInstanceIDMeansAskTheMetadataService() {
        guard case .run(let options) = RunnerOptions.parse(["--instance-id", "", "--state-dir", "/s"]) else { return XCTFail() }
        XCTAssertNil(options.instanceID)
    }

    func testBadValuesAreRefused() {
        let cases: [([String], String)] = [
            (["--state-dir", "/s", "--orphan-timeout", "soon"], "--orphan-timeout"),
            (["--state-dir", "/s", "--poll-wait", "0"], "--poll-wait"),
            (["--state-dir", "/s", "--heartbeat-interval", "-1"], "--heartbeat-interval"),
            (["--state-dir", "/s", "--orphan-action", "reboot"], "--orphan-action"),
            (["--state-dir", "/s", "--server", "http://h"], "--registration-token"),
            (["--state-dir", "/s", "--server", "ftp://h", "--registration-token", "t"], "--server"),
            (["--state-dir", "/s", "--orphan-timeout"], "needs a value"),
            (["--instance-id", "i"], "missing --state-dir"),
            (["--state-dir", "/s", "--frobnicate"], "unknown option '--frobnicate'"),
        ]
        for (arguments, expected) in cases {
            guard case .invalid(let problem) = RunnerOptions.parse(arguments) else { XCTFail("\(arguments) parsed"); continue }
            XCTAssertTrue(problem.contains(expected), "\(arguments): \(problem)")
        }
    }

    func testAStrayWordIsNotEchoedSinceItMayBeAToken() {
        guard case .invalid(let problem) = RunnerOptions.parse(["--state-dir", "/s", "secret-token-value"]) else { return XCTFail() }
        XCTAssertFalse(problem.contains("secret-token-value"), problem)
    }

    func testTheBinaryExitsTwoWithOneLineOnABadDuration() throws {
        let result = try runCommand(BuiltProducts.path("dstack-runner"),
                                    ["--state-dir", NSTemporaryDirectory() + "never-\(UUID())", "--orphan-timeout", "5x"], timeout: 20)
        XCTAssertEqual(result.status, 2, result.description)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("dstack-runner: --orphan-timeout must be a duration"), result.stderr)
    }

    func testTheBinaryExitsTwoWithOneLineOnAnUnknownAction() throws {
        let result = try runCommand(BuiltProducts.path("dstack-runner"),
                                    ["--state-dir", "/tmp/x", "--orphan-action", "halt"], timeout: 20)
        XCTAssertEqual(result.status, 2, result.description)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }
}
