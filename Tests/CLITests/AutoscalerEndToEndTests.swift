import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The seed document's promise on the local provider: runs make dstack start runners,
/// the runners do the work, and idle runners are torn down.
final class AutoscalerEndToEndTests: CLITestCase {
    func testTheDemo() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let server = try startServer("--idle-timeout", "3s")
        let ids = try (1...4).map { try submit("--", "sh", "-c", "sleep 1; echo run $0 says hi", "\($0)", server: server) }

        try eventually("all four runs to finish") { try ids.allSatisfy { try status($0) == "done" } }
        let instancesUsed = Set(try ids.compactMap { try run($0)?["instance_id"]?.stringValue })
        XCTAssertEqual(instancesUsed.count, 2, "two runners came up for four runs under a max of 2: \(instancesUsed)")
        for (index, id) in ids.enumerated() {
            XCTAssertTrue(try ok("logs", id).contains("run \(index + 1) says hi"))
        }
        try eventually("the idle runners to be torn down") { try liveInstances().isEmpty }

        server.stop()
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
        XCTAssertTrue(server.output.contains("dstack server stopped"), server.output)
    }

    func testRunFollowsTheRunAndExitsWithItsCode() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let result = try dstack(["run", "--", "sh", "-c", "echo out; echo token=${DSTACK_REGISTRATION_TOKEN:-none}; echo err >&2; exit 7"],
                                environment: ["DSTACK_SERVER_URL": server.url])
        XCTAssertTrue(result.stdout.contains("token=none"), "a run's commands never see the registration token: \(result.stdout)")
        XCTAssertEqual(result.status, 7, result.description)
        XCTAssertTrue(result.stdout.hasPrefix("run-"), result.stdout)
        XCTAssertTrue(result.stdout.contains("out\n"), result.stdout)
        XCTAssertTrue(result.stderr.contains("err\n"), result.stderr)
        XCTAssertTrue(result.stderr.contains("failed"), result.stderr)
    }

    func testAWaitingRunSaysWhy() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let huge = try submit("--wait", "--memory", "100000GB", "--", "true", server: server)
        try eventually("the run to explain why it waits") {
            try run(huge)?["reason"]?.stringValue == "no allowed instance type has 100000 GB memory"
        }
        let blocker = try submit("--", "sleep", "30", server: server)
        try eventually("the first run to start") { try status(blocker) == "running" }
        let queued = try submit("--instance-type", "local", "--", "true", server: server)
        try eventually("the second run to wait for the max") { try run(queued)?["reason"]?.stringValue == "local is at its max of 1" }
        XCTAssertEqual(try status(queued), "pending")
        try ok("stop", blocker)
        try eventually("the queued run to finish after the first is stopped") { try status(queued) == "done" }
        XCTAssertEqual(try status(blocker), "stopped")
    }

    func testLoweringTheMaxWhileRunsAreGoingShutsDownTheExtraRunnerAndRetriesItsRun() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let server = try startServer()
        let first = try submit("--", "sh", "-c", "echo started; sleep 3", server: server)
        let second = try submit("--", "sh", "-c", "echo started; sleep 3", server: server)
        try eventually("both runs' commands to start") {
            try ok("logs", first).contains("started") && ok("logs", second).contains("started")
        }

        // The CLI shuts the extra runner down itself; the server, seeing the new rule,
        // may beat it to it. Either way it is gone at once and its run is retried.
        try ok("autoscale", "allow", "local", "--max", "1")
        try eventually("the extra runner to be shut down", timeout: 5) { try liveInstances().count == 1 }
        let cutRun = try XCTUnwrap(try [first, second].first { try dstack("logs", $0).stderr.contains("was shut down") },
                                   "one run lost its runner")
        XCTAssertTrue(try dstack("logs", cutRun).stderr.contains("it will be retried"))

        try eventually("both runs to finish on the one runner left") { try status(first) == "done" && status(second) == "done" }
        let log = try ok("logs", cutRun)
        XCTAssertEqual(log.components(separatedBy: "started").count - 1, 2, "the log keeps both attempts: \(log)")
    }

    func testDisableMidRunStopsEverythingAndEnableResumes() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "sh", "-c", "sleep 2; echo finished", server: server)
        try eventually("the run to start") { try status(id) == "running" }

        XCTAssertTrue(try ok("autoscale", "disable").contains("Shut down 1 instance"))
        XCTAssertEqual(try liveInstances().count, 0)
        try eventually("the run to wait while autoscaling is disabled") {
            try run(id)?["reason"]?.stringValue == "autoscaling is disabled; run 'dstack autoscale enable'"
        }
        try ok("autoscale", "enable")
        ServerConnectionForTests.wake(server)
        try eventually("the run to finish once enabled") { try status(id) == "done" }
        XCTAssertTrue(try ok("logs", id).contains("finished"))
    }

    func testClearMidRunShutsDownTheRunners() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "sleep", "30", server: server)
        try eventually("the run to start") { try status(id) == "running" }
        XCTAssertTrue(try ok("autoscale", "clear").contains("Shut down 1 instance"))
        XCTAssertEqual(try liveInstances().count, 0)
        try eventually("the run to wait for a rule") {
            try run(id)?["reason"]?.stringValue == "no autoscale rules; run 'dstack autoscale allow INSTANCE_TYPE --max N'"
        }
    }

    func testARunnerKilledFromOutsideHasItsRunRetried() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer("--max-retries", "2")
        let id = try submit("--", "sh", "-c", "echo attempt-output; sleep 2", server: server)
        try eventually("the run's command to start") { try ok("logs", id).contains("attempt-output") }
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)
        kill(try runnerPID(instance), SIGKILL)

        try eventually("the run to be retried and finish") { try status(id) == "done" }
        XCTAssertNotEqual(try run(id)?["instance_id"]?.stringValue, instance, "the retry ran on a new instance")
        XCTAssertEqual(try run(id)?["attempt"]?.intValue, 2)
        let log = try ok("logs", id)
        XCTAssertEqual(log.components(separatedBy: "attempt-output").count - 1, 2, log)
    }

    func testKillingTheServerMidReconcileNeitherLeaksNorDoublesInstances() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        var server = try startServer("--idle-timeout", "2s")
        let ids = try (1...4).map { _ in try submit("--", "sleep", "1", server: server) }
        // Kill it as soon as the first launch is journaled, mid-pass.
        try eventually("a launch to be under way") { try liveInstances().count > 0 || runs().contains { $0["status"] == "provisioning" } }
        server.stop(signal: SIGKILL)

        // The runners' user data names the server's address: it comes back on the same one.
        server = try startServer("--idle-timeout", "2s", port: server.port)
        ServerConnectionForTests.wake(server)
        try eventually("all runs to finish after the restart") { try ids.allSatisfy { try status($0) == "done" } }
        let directories = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("local/instances").path)
        XCTAssertLessThanOrEqual(directories.count, 2, "never more instances than the max: \(directories)")
        try eventually("every instance to be torn down when idle") { try liveInstances().isEmpty }
    }
}

extension AutoscalerEndToEndTests {
    func testTheServerSweepsInstancesThatStateDoesNotKnow() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        try ok("instances", "request", "local")
        let leaked = try XCTUnwrap(liveInstances().first?["id"]?.stringValue)
        // Forget it, as a crash between the cloud's answer and the journal would.
        // (On whichever backend the test runs: state.db, or Postgres under DSTACK_TEST_STATE.)
        let state = try openState()
        try state.write { tx in
            try tx.forget(TerminationTarget(instanceIDs: [leaked]), vendor: "local")
            for batch in try tx.openBatches(vendor: "local") { try tx.closeBatch(token: batch.token) }
        }

        let server = try startServer("--sweep-grace", "1s")
        try eventually("the unknown instance to be swept") { try liveInstances().isEmpty }
        // The pass logs once it ends, a moment after its termination took the instance away.
        try eventually("the sweep to be logged: \(server.output)", timeout: 10) { server.output.contains("swept unknown \(leaked)") }
    }
}

extension AutoscalerEndToEndTests {
    func testCtrlCDetachesAndSaysHowToReattachWhileTheRunGoesOn() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let process = Process()
        let errors = Pipe()
        process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        process.arguments = ["run", "--", "sh", "-c", "echo begun; sleep 3; echo ended"]
        process.currentDirectoryURL = workingDirectory
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["DSTACK_HOME": home.path, "DSTACK_SERVER_URL": server.url]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        try eventually("the run to print") { try runs().first.map { try ok("logs", $0["id"]!.stringValue!).contains("begun") } ?? false }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        let id = try XCTUnwrap(runs().first?["id"]?.stringValue)
        XCTAssertTrue(stderr.contains("Reattach with: dstack logs \(id) --follow; stop it with: dstack stop \(id)"), stderr)
        try eventually("the detached run to finish anyway") { try status(id) == "done" }
        XCTAssertTrue(try ok("logs", id).contains("ended"))
    }
}

enum ServerConnectionForTests {
    static func wake(_ server: ServerProcess) {
        _ = try? CurlHTTPClient(options: .init(proxy: ProxySettings()))
            .sendBlocking(HTTPRequest(method: "POST", url: server.url + RunnerAPI.wakePath, body: ""))
    }
}
