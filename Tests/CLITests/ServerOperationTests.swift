import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Operating `dstack server`: one per home, a taken port in one sentence, SIGTERM
/// honoured even while runners long-poll, log lines an operator can grep, no zombies.
final class ServerOperationTests: CLITestCase {
    func testVersionPrintsTheOneVersionNumber() throws {
        XCTAssertEqual(try ok("--version"), "dstack \(DstackVersion.current)\n")
    }

    func testMaxProvisioningAttemptsMustBeAWholeNumberOfOneOrMore() throws {
        for bad in ["0", "-1", "two", "1.5", ""] {
            try fails(["server", "--max-provisioning-attempts", bad],
                      saying: "--max-provisioning-attempts must be a whole number of 1 or more, got '\(bad)'")
        }
    }

    func testASecondServerOnTheSameHomeIsRefusedNamingTheFirst() throws {
        try ok("local", "configure")
        let first = try startServer()
        let second = try dstack("server", "--port", String(try LocalPort.free()))
        XCTAssertEqual(second.status, 1, second.description)
        XCTAssertEqual(second.stderr, """
            dstack: another dstack server (pid \(first.process.processIdentifier), port \(first.port)) is running for \(home.path)

            """)
        XCTAssertTrue(first.process.isRunning, "the first server is untouched")
    }

    func testALockFileLeftByADeadServerDoesNotBlockTheNext() throws {
        try ok("local", "configure")
        try "pid 999999 port 3000\n".write(to: home.appendingPathComponent("server.lock"), atomically: true, encoding: .utf8)
        let server = try startServer()
        XCTAssertTrue(server.process.isRunning)
        let lock = try String(contentsOf: home.appendingPathComponent("server.lock"), encoding: .utf8)
        XCTAssertEqual(lock, "pid \(server.process.processIdentifier) port \(server.port)\n")
    }

    func testSIGTERMStopsTheServerCleanlyWhileARunnerLongPollsForWork() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "true", server: server)
        try eventually("the run to finish") { try status(id) == "done" }
        // The runner now waits for its next assignment in a poll the server may hold for
        // up to 25 s; give it a moment to be in one.
        Thread.sleep(forTimeInterval: 1)

        kill(server.process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while server.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(server.process.isRunning, "the server is still running 10 s after SIGTERM: \(server.output)")
        guard !server.process.isRunning else { return }
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
        XCTAssertTrue(server.output.contains("dstack server stopped"), server.output)
    }

    func testEveryServerLogLineHasItsUTCTimeAndNamesTheRunsAndInstancesItIsAbout() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "true", server: server)
        try eventually("the run to finish") { try status(id) == "done" }
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)
        try eventually("the run's end to be logged") { server.output.contains("run \(id) attempt 1 on \(instance) ended done") }

        let lines = server.output.split(separator: "\n").map(String.init)
        let stamp = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z "#)
        for line in lines {
            XCTAssertNotNil(stamp.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "no UTC timestamp: \(line)")
        }
        XCTAssertTrue(lines.contains { $0.contains("requested 1 local for \(id) (launch dstack-") }, server.output)
        XCTAssertTrue(lines.contains { $0.contains("runner on \(instance) registered") }, server.output)
        XCTAssertTrue(lines.contains { $0.contains("assigned \(id) to \(instance)") }, server.output)
    }

    func testNoZombieIsLeftUnderTheServerWhenAnotherProcessTerminatesItsInstances() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let server = try startServer("--idle-timeout", "1s")
        // One runner the server itself tears down when idle, one the CLI terminates.
        let first = try submit("--", "true", server: server)
        try eventually("the first run to finish") { try status(first) == "done" }
        try eventually("its idle runner to be torn down") { try liveInstances().isEmpty }
        let second = try submit("--", "sleep", "30", server: server)
        try eventually("the second run to start") { try status(second) == "running" }
        try ok("autoscale", "disable")
        try eventually("no live instance") { try liveInstances().isEmpty }

        let serverPID = server.process.processIdentifier
        try eventually("the server to have no zombie children", timeout: 10) { zombieChildren(of: serverPID).isEmpty }
    }
}

/// Children of `parent` in state Z, from /proc/PID/stat (fields 3 and 4: state and ppid).
func zombieChildren(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry), let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] == "Z", pid_t(fields[1]) == parent else { return nil }
        return pid
    }
}
