import DstackCore
import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

/// The built `dstack-runner` binary against the fake server, as a bootstrap starts it.
final class RunnerBinaryTests: XCTestCase {
    private var process: Process?
    private var logFile: String!
    private var stateDirectory: String!

    override func setUp() {
        let base = NSTemporaryDirectory() + "runner-binary-\(UUID().uuidString)"
        stateDirectory = base + "/state"
        logFile = base + ".log"
    }

    override func tearDown() {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: stateDirectory + "/..")
        try? FileManager.default.removeItem(atPath: logFile)
    }

    private func start(server: String, _ extra: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack-runner"))
        process.arguments = ["--instance-id", "i-0aaaabbbbccccdddd", "--state-dir", stateDirectory, "--orphan-action", "exit",
                             "--server", server, "--registration-token", FakeRunnerServer.registrationToken,
                             "--poll-wait", "1", "--heartbeat-interval", "0.5"] + extra
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        return process
    }

    private var output: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    func testARunEndToEndLeavesNoTokenInTheOutput() throws {
        let server = try FakeRunnerServer()
        defer { server.stop() }
        let process = try start(server: server.url)
        server.assign(RunnerAPI.Assignment(runID: "run-7", attempt: 1, commands: ["echo hi", "echo oops >&2; exit 4"]))
        XCTAssertTrue(waitUntil { !server.exits.isEmpty }, output)
        XCTAssertEqual(server.exits.first?.exit, RunnerAPI.RunExit(attempt: 1, exitCode: 4))
        XCTAssertEqual(server.output("run-7"), "hi\n")
        XCTAssertEqual(server.output("run-7", .stderr), "oops\n")

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let log = output
        XCTAssertTrue(log.contains("registered with"), log)
        XCTAssertTrue(log.contains("ms after the assignment arrived"), log)
        XCTAssertFalse(log.contains(FakeRunnerServer.registrationToken), log)
        XCTAssertFalse(log.contains(FakeRunnerServer.instanceToken), log)
        let record = try String(contentsOfFile: stateDirectory + "/runner.json", encoding: .utf8)
        XCTAssertFalse(record.contains(FakeRunnerServer.registrationToken) || record.contains(FakeRunnerServer.instanceToken))
    }

    func testTheRunnerExitsWhenTheServerIsGoneForTheOrphanTimeout() throws {
        let server = try FakeRunnerServer()
        let process = try start(server: server.url, ["--orphan-timeout", "2s"])
        XCTAssertTrue(waitUntil { server.heartbeats.count >= 1 }, output)
        XCTAssertTrue(process.isRunning, "contact keeps it alive")
        server.stop()
        XCTAssertTrue(waitUntil(timeout: 30) { !process.isRunning }, output)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.contains("orphaned: no answer from the server"), output)
    }

    func testSIGTERMKillsTheRunningCommandsGroupAndExitsZero() throws {
        let server = try FakeRunnerServer()
        defer { server.stop() }
        let process = try start(server: server.url)
        // The shell and a background child: both are in the command's process group.
        server.assign(RunnerAPI.Assignment(runID: "run-9", attempt: 1, commands: ["sleep 60 & echo $$ $!; wait"]))
        XCTAssertTrue(waitUntil { server.output("run-9").hasSuffix("\n") }, output)
        let pids = server.output("run-9").split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { pid_t($0) }
        XCTAssertEqual(pids.count, 2)

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        for pid in pids {
            XCTAssertTrue(waitUntil(timeout: 10) { !Self.isAlive(pid) }, "pid \(pid) outlived the runner")
        }
        XCTAssertTrue(server.exits.isEmpty, "an interrupted run is not reported as finished: the server retries it")
    }

    /// Gone, or a zombie waiting for whoever inherited it.
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}
