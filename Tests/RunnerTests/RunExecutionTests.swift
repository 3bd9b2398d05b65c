import DstackCore
import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

/// Runs against the fake server, the runner in-process.
final class RunExecutionTests: XCTestCase {
    private func run(_ commands: [String], stopWhenRunning: Bool = false, stopWhenLogging: Bool = false,
                     file: StaticString = #filePath, line: UInt = #line) throws -> (FakeRunnerServer, InProcessRunner, RunnerAPI.RunExit?) {
        let server = try FakeRunnerServer()
        let runner = InProcessRunner(server: server.url)
        addTeardownBlock { runner.stop(); server.stop() }
        if stopWhenLogging { server.requestStop(runID: "run-1") }
        server.assign(RunnerAPI.Assignment(runID: "run-1", attempt: 1, commands: commands))
        if stopWhenRunning {
            XCTAssertTrue(waitUntil { server.heartbeats.contains { $0.runID == "run-1" } }, runner.output, file: file, line: line)
            server.requestStop(runID: "run-1")
        }
        XCTAssertTrue(waitUntil(timeout: 30) { !server.exits.isEmpty }, runner.output, file: file, line: line)
        return (server, runner, server.exits.first?.exit)
    }

    func testTwoCommandsStreamTheirOutputInOrderAndReportExitZero() throws {
        let (server, runner, exit) = try run(["echo one; echo two", "printf 'three\\n'"])
        XCTAssertEqual(exit, RunnerAPI.RunExit(attempt: 1, exitCode: 0), runner.output)
        XCTAssertEqual(server.output("run-1"), "one\ntwo\nthree\n")
        XCTAssertTrue(server.chunks.allSatisfy { $0.chunk.attempt == 1 })
        // Every chunk landed before the exit report (the server ignores chunks after it).
        let paths = server.requests.map(\.path)
        let exitIndex = try XCTUnwrap(paths.firstIndex { $0.hasSuffix("/runs/run-1/exit") })
        XCTAssertNil(paths[exitIndex...].firstIndex { $0.hasSuffix("/logs") })
        XCTAssertEqual(server.exits.count, 1)
    }

    func testAFailingCommandStopsTheSequenceAndReportsItsCode() throws {
        let (server, _, exit) = try run(["echo before", "exit 3", "echo never"])
        XCTAssertEqual(exit?.exitCode, 3)
        XCTAssertEqual(server.output("run-1"), "before\n")
    }

    func testStderrGoesAsTheStderrStream() throws {
        let (server, _, exit) = try run(["echo to-out; echo to-err >&2"])
        XCTAssertEqual(exit?.exitCode, 0)
        XCTAssertEqual(server.output("run-1", .stdout), "to-out\n")
        XCTAssertEqual(server.output("run-1", .stderr), "to-err\n")
    }

    func testCommandsRunInAFreshWorkingDirectoryWithStdinEmpty() throws {
        let (server, runner, exit) = try run(["pwd; ls -A | wc -l; touch made-here", "ls; cat; echo end"])
        XCTAssertEqual(exit?.exitCode, 0)
        let lines = server.output("run-1").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, URL(fileURLWithPath: runner.stateDirectory + "/work/run-1-1").resolvingSymlinksInPath().path)
        XCTAssertEqual(lines.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }, ["0", "made-here", "end"])
    }

    func testAStopInAHeartbeatReplyKillsALongSleepAndTheExitIsReported() throws {
        let (server, runner, exit) = try run(["echo started; sleep 60", "echo never"], stopWhenRunning: true)
        XCTAssertEqual(exit?.exitCode, 128 + Int(SIGTERM), runner.output)
        XCTAssertFalse(server.output("run-1").contains("never"))
    }

    func testAStopInALogReplyKillsTheCommand() throws {
        let (_, runner, exit) = try run(["echo hello; exec sleep 60"], stopWhenLogging: true)
        XCTAssertEqual(exit?.exitCode, 128 + Int(SIGTERM), runner.output)
    }

    func testLargeOutputArrivesWholeInOrder() throws {
        let (server, _, exit) = try run(["seq 1 20000"])
        XCTAssertEqual(exit?.exitCode, 0)
        let expected = (1...20000).map(String.init).joined(separator: "\n") + "\n"
        XCTAssertEqual(server.output("run-1"), expected)
        XCTAssertGreaterThan(server.chunks.count, 0)
    }

    func testTheNextRunIsTakenAfterTheFirst() throws {
        let (server, runner, _) = try run(["echo first"])
        server.assign(RunnerAPI.Assignment(runID: "run-2", attempt: 2, commands: ["echo second"]))
        XCTAssertTrue(waitUntil { server.exits.count == 2 }, runner.output)
        XCTAssertEqual(server.exits.last?.runID, "run-2")
        XCTAssertEqual(server.exits.last?.exit, RunnerAPI.RunExit(attempt: 2, exitCode: 0))
        XCTAssertEqual(server.output("run-2"), "second\n")
    }
}
