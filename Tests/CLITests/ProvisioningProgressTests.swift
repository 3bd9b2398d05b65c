import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Runs whose instances never bring up a runner, on the local provider: the attached
/// run shows where it is, `dstack instances` tells a machine up without its runner from
/// one ready, and after the set number of attempts the run fails saying why.
final class ProvisioningProgressTests: CLITestCase {
    func testARunWhoseRunnersCannotReachTheServerFailsAfterTheMaxAttemptsAndSaysWhy() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        // Runners are told a URL where nothing listens: they boot, and never register.
        let server = try startServer("--advertise-url", "http://127.0.0.1:9", "--provisioning-timeout", "3s",
                                     "--max-provisioning-attempts", "2")
        let attached = try dstack(["run", "--", "true"], environment: ["DSTACK_SERVER_URL": server.url])

        XCTAssertEqual(attached.status, 1, attached.description)
        XCTAssertTrue(attached.stderr.contains("booting"), "the attached run showed the stage it reached: \(attached.stderr)")
        XCTAssertFalse(attached.stderr.contains("\r"), "plain lines when not on a terminal: \(attached.stderr)")
        let reason = """
            2 instances of local were launched for this run and none of their runners registered with http://127.0.0.1:9 \
            within 3s; check that instances can reach that URL (dstack server --advertise-url) and that the runner can \
            start there (see the instance's console output)
            """
        XCTAssertTrue(attached.stderr.contains(reason), attached.stderr)
        let id = try XCTUnwrap(runs().first?["id"]?.stringValue)
        XCTAssertEqual(try status(id), "failed")
        XCTAssertEqual(try run(id)?["reason"]?.stringValue, reason)
        try eventually("every instance launched for it to be terminated") { try liveInstances().isEmpty }
        Thread.sleep(forTimeInterval: 2) // two more passes
        XCTAssertTrue(try liveInstances().isEmpty, "nothing is launched again")
        XCTAssertTrue(server.output.contains("run \(id) failed: 2 instances of local"), server.output)
    }

    func testWhileARunnerHasNotRegisteredInstancesAndPsSaySo() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer("--advertise-url", "http://127.0.0.1:9")
        let id = try submit("--", "true", server: server)
        try eventually("the run to be booting") { try run(id)?["stage"]?.stringValue == "booting" }
        XCTAssertEqual(try run(id)?["reason"]?.stringValue, "waiting for a local instance to start")

        let instance = try XCTUnwrap(liveInstances().first)
        XCTAssertEqual(instance["state"]?.stringValue, "running")
        XCTAssertEqual(instance["runner_registered"], .bool(false))
        let table = try ok("instances")
        XCTAssertTrue(table.contains("RUNNER"), table)
        XCTAssertTrue(table.contains("running  not registered yet"), table)
    }

    func testARegisteredRunnerIsShownAsSuch() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "sleep", "30", server: server)
        try eventually("the run to start") { try status(id) == "running" }
        try eventually("the runner to pick the run up") { try run(id)?["stage"]?.stringValue == "running" }
        let instance = try XCTUnwrap(liveInstances().first)
        XCTAssertEqual(instance["runner_registered"], .bool(true))
        XCTAssertTrue(try ok("instances").contains("running  registered"))
    }

    func testOnATerminalTheAttachedRunRewritesOneStatusLine() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        // script(1) gives the command a terminal, as a user's shell would.
        let command = "\(BuiltProducts.path("dstack")) run -- sh -c 'sleep 1; echo hello'"
        let result = try runCommand("/usr/bin/script", ["-qec", command, "/dev/null"],
                                    environment: ["DSTACK_HOME": home.path, "DSTACK_SERVER_URL": server.url])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.stdout.contains("\r\u{1B}[K[dstack] run-"), "a status line rewritten in place: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("hello"), result.stdout)
    }
}

extension ProvisioningProgressTests {
    func testTerminatingAnInstanceByHandRetriesItsRunWithoutUsingUpARetry() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer("--max-retries", "0")
        let id = try submit("--", "sh", "-c", "echo attempt-began; sleep 2", server: server)
        try eventually("the run's command to start") { try ok("logs", id).contains("attempt-began") }
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)

        XCTAssertEqual(try ok("instances", "terminate", instance), """
            Terminated \(instance) (its run \(id) goes back to the queue and will be retried; this does not count against its retries).

            """)
        XCTAssertFalse(try liveInstances().contains { $0["id"]?.stringValue == instance })
        try eventually("the run to be retried and finish, though it had no retries to spare") { try status(id) == "done" }
        XCTAssertEqual(try run(id)?["attempt"]?.intValue, 2)
    }

    func testTerminatingAnUnknownInstanceIsOneSentenceAndChangesNothing() throws {
        try ok("local", "configure")
        let before = snapshot()
        try fails(["instances", "terminate", "local-nope"], saying: "no managed instance 'local-nope'; see 'dstack instances'")
        XCTAssertEqual(snapshot(), before)
        let none = try dstack("instances", "terminate")
        XCTAssertEqual(none.status, 2, none.description)
    }

    func testDisableAndALoweredMaxNameTheRunsTheyCutOff() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        // The server reconciles only when woken, so the CLI itself does the cutting off.
        let server = try startServer(interval: "10m")
        let first = try submit("--", "sleep", "30", server: server)
        let second = try submit("--", "sleep", "30", server: server)
        try eventually("both runs to start") { try status(first) == "running" && status(second) == "running" }
        let instanceOf = [first: try XCTUnwrap(run(first)?["instance_id"]?.stringValue),
                          second: try XCTUnwrap(run(second)?["instance_id"]?.stringValue)]

        let lowered = try ok("autoscale", "allow", "local", "--max", "1")
        let cut = try XCTUnwrap([first, second].first { lowered.contains("its run \($0)") }, lowered)
        XCTAssertTrue(lowered.contains("Shut down \(instanceOf[cut]!) (its run \(cut) goes back to the queue and will be retried)."),
                      lowered)
        let kept = cut == first ? second : first
        try eventually("the kept run to still be running") { try status(kept) == "running" }

        let disabled = try ok("autoscale", "disable")
        XCTAssertTrue(disabled.contains("Shut down \(instanceOf[kept]!) (its run \(kept) goes back to the queue and will be retried)."),
                      disabled)
    }
}
