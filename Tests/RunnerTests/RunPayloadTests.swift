import DstackCore
import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

/// What an assignment carries besides its commands: the workflow's env, and the run's
/// code, downloaded, checked and unpacked before the first command.
final class RunPayloadTests: XCTestCase {
    private func execute(_ assignment: RunnerAPI.Assignment, code: [UInt8]? = nil,
                         file: StaticString = #filePath, line: UInt = #line) throws -> (FakeRunnerServer, RunnerAPI.RunExit?) {
        let server = try FakeRunnerServer()
        let runner = InProcessRunner(server: server.url)
        addTeardownBlock { runner.stop(); server.stop() }
        if let code { server.serveCode(code, forRun: assignment.runID) }
        server.assign(assignment)
        XCTAssertTrue(waitUntil(timeout: 30) { !server.exits.isEmpty }, runner.output, file: file, line: line)
        return (server, server.exits.first?.exit)
    }

    /// A gzipped tar of `files` (path → contents), as the CLI's code store makes them.
    private func archive(_ files: [String: String]) throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (path, text) in files {
            let url = folder.appendingPathComponent("src/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: false, encoding: .utf8)
        }
        let store = CodeStore(home: DstackHome(url: folder.appendingPathComponent("home")))
        let code = try store.store(try CodeFiles.collect(root: folder.appendingPathComponent("src").path, git: nil))
        return Array(try Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(store.path(for: code.sha256)))))
    }

    private func sha256(_ bytes: [UInt8]) -> String {
        let digest = SHA256Digest()
        digest.update(bytes)
        return digest.finalHex()
    }

    func testTheEnvReachesEveryCommandButNeverTheRegistrationToken() throws {
        let (server, exit) = try execute(RunnerAPI.Assignment(
            runID: "run-1", attempt: 1, commands: ["echo FOO=$FOO", "echo SPACED=\"$SPACED\" token=${DSTACK_REGISTRATION_TOKEN:-none}"],
            env: ["FOO": "bar", "SPACED": "a b", "DSTACK_REGISTRATION_TOKEN": "not-from-a-workflow"]))
        XCTAssertEqual(exit?.exitCode, 0)
        XCTAssertEqual(server.output("run-1"), "FOO=bar\nSPACED=a b token=none\n")
    }

    func testTheCodeIsUnpackedIntoTheWorkingDirectoryBeforeTheFirstCommand() throws {
        let bytes = try archive(["train.py": "print('hi')\n", "data/config.yaml": "epochs: 3\n"])
        let (server, exit) = try execute(RunnerAPI.Assignment(
            runID: "run-1", attempt: 1, commands: ["cat train.py data/config.yaml", "ls"],
            code: RunnerAPI.Assignment.Code(sha256: sha256(bytes), size: bytes.count)), code: bytes)
        XCTAssertEqual(exit?.exitCode, 0, server.output("run-1", .stderr))
        XCTAssertEqual(server.output("run-1"), "print('hi')\nepochs: 3\ndata\ntrain.py\n")
        XCTAssertTrue(server.requests.contains { $0.path.hasSuffix("/runs/run-1/code") && $0.header("Authorization") != nil })
    }

    func testCodeWhoseHashDiffersIsNotUnpackedAndFailsTheAttempt() throws {
        let bytes = try archive(["a.txt": "x\n"])
        let (server, exit) = try execute(RunnerAPI.Assignment(
            runID: "run-1", attempt: 1, commands: ["echo never"],
            code: RunnerAPI.Assignment.Code(sha256: String(repeating: "0", count: 64), size: bytes.count)), code: bytes)
        XCTAssertEqual(exit?.exitCode, 1)
        XCTAssertEqual(server.output("run-1"), "")
        XCTAssertTrue(server.output("run-1", .stderr).hasPrefix("[dstack] the run's code did not arrive intact: its SHA-256 is "),
                      server.output("run-1", .stderr))
    }

    func testCodeTheServerWillNotGiveFailsTheAttemptWithItsReason() throws {
        let (server, exit) = try execute(RunnerAPI.Assignment(
            runID: "run-1", attempt: 1, commands: ["echo never"],
            code: RunnerAPI.Assignment.Code(sha256: String(repeating: "a", count: 64), size: 10)))
        XCTAssertEqual(exit?.exitCode, 1)
        XCTAssertEqual(server.output("run-1", .stderr),
                       "[dstack] could not download the run's code: the server answered 404: run run-1 has no code\n")
    }

    func testAnArchiveTarCannotReadFailsTheAttemptWithTarsWords() throws {
        let bytes = Array("this is not a gzipped tar".utf8)
        let (server, exit) = try execute(RunnerAPI.Assignment(
            runID: "run-1", attempt: 1, commands: ["echo never"],
            code: RunnerAPI.Assignment.Code(sha256: sha256(bytes), size: bytes.count)), code: bytes)
        XCTAssertEqual(exit?.exitCode, 1)
        XCTAssertTrue(server.output("run-1", .stderr).hasPrefix("[dstack] could not unpack the run's code (tar exited with 2"),
                      server.output("run-1", .stderr))
    }

    func testAnAssignmentFromAServerWithoutEnvOrCodeStillParses() throws {
        let old = try JSONValue.parse(#"{"run_id": "r", "attempt": 1, "commands": ["true"]}"#)
        XCTAssertEqual(try RunnerAPI.Assignment(json: old), RunnerAPI.Assignment(runID: "r", attempt: 1, commands: ["true"]))
        let full = RunnerAPI.Assignment(runID: "r", attempt: 2, commands: ["x"], env: ["A": "1"],
                                        code: RunnerAPI.Assignment.Code(sha256: String(repeating: "b", count: 64), size: 42))
        XCTAssertEqual(try RunnerAPI.Assignment(json: try JSONValue.parse(full.json.serialized())), full)
        XCTAssertThrowsError(try RunnerAPI.Assignment(json: try JSONValue.parse(#"{"run_id": "r", "attempt": 1, "commands": [], "env": {"A": 1}}"#)))
    }
}
