import DstackCore
import XCTest

final class RunnerBootstrapTests: XCTestCase {
    func testTheScriptStartsTheRunnerAndInstallsItFromTheGivenURL() {
        let script = RunnerBootstrap(runnerURL: "https://example.com/dstack-runner", serverURL: "http://10.0.0.1:3000").render()
        XCTAssertTrue(script.hasPrefix("#!/bin/sh\n"))
        XCTAssertTrue(script.contains("curl -fsSL --retry 5 -o \"$RUNNER\" 'https://example.com/dstack-runner'"))
        XCTAssertTrue(script.contains("--server 'http://10.0.0.1:3000'"))
    }

    func testValuesAreShellQuoted() {
        let script = RunnerBootstrap(serverURL: "http://x/'; rm -rf /; '").render()
        XCTAssertTrue(script.contains("--server 'http://x/'\\''; rm -rf /; '\\'''"))
    }

    func testTheRegistrationTokenIsHandedOverInTheEnvironmentNotTheCommandLine() {
        let script = RunnerBootstrap(serverURL: "http://s:3000", registrationToken: "abc123").render()
        XCTAssertTrue(script.contains("export DSTACK_REGISTRATION_TOKEN='abc123'\n"), script)
        XCTAssertFalse(script.contains("--registration-token"), script)
    }

    func testWithoutARunnerURLNothingIsDownloaded() {
        XCTAssertFalse(RunnerBootstrap().render().contains("curl"))
    }
}
