import DstackCore
import DstackLocal
import Foundation
import XCTest

/// The `dstack-runner` binary itself, run as a child of the test.
final class RunnerLifecycleTests: XCTestCase {
    private var stateDirectory: URL!
    private var runner: Process?

    override func setUp() {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-runner-\(UUID().uuidString)")
    }

    override func tearDown() {
        if let runner, runner.isRunning {
            kill(runner.processIdentifier, SIGKILL)
            runner.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: stateDirectory)
    }

    private func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try RunnerLocator.locate(environment: ProcessInfo.processInfo.environment))
        process.arguments = arguments
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        runner = process
        return (process, stderr)
    }

    func testRunnerRecordsItselfAndExitsZeroOnSIGTERM() async throws {
        let (process, _) = try start(["--instance-id", "local-0000abcd", "--state-dir", stateDirectory.path])
        let record = stateDirectory.appendingPathComponent("runner.json")
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: record.path) && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let json = try JSONValue.parse(String(contentsOf: record, encoding: .utf8))
        XCTAssertEqual(json["instance_id"]?.stringValue, "local-0000abcd")
        XCTAssertEqual(json["pid"]?.intValue, Int64(process.processIdentifier))
        XCTAssertNotNil(json["started_at"]?.stringValue)

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: record.path), "the runner removes nothing on exit")
    }

    func testRunnerExitsZeroOnSIGINTWithEqualsStyleFlags() async throws {
        let (process, _) = try start(["--instance-id=local-0000abce", "--state-dir=\(stateDirectory.path)"])
        let record = stateDirectory.appendingPathComponent("runner.json")
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: record.path) && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: record.path))
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testAnUnknownFlagIsOneLineAndExitTwo() throws {
        let (process, stderr) = try start(["--instance-id", "x", "--state-dir", stateDirectory.path, "--frobnicate", "http://x"])
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertEqual(message.split(separator: "\n").count, 1)
        XCTAssertTrue(message.hasPrefix("dstack-runner: unknown option '--frobnicate'"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDirectory.path), "nothing written on bad input")
    }

    func testAMissingStateDirectoryIsExitTwo() throws {
        let (process, stderr) = try start(["--instance-id", "x"])
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(message.contains("missing --state-dir"), message)
    }
}
