@testable import DstackLocal
import DstackCore
import Foundation
import XCTest

/// A temporary DSTACK_HOME with a local provider over it. Whatever a test starts is
/// killed in `tearDown`, even when the test failed halfway.
class LocalProviderTestCase: XCTestCase {
    var home: URL!
    var provider: LocalProvider!

    /// Boots like a cloud instance that runs the real runner: the bootstrap execs it,
    /// so the instance lives exactly as long as the runner does.
    static let execRunnerUserData = """
        #!/bin/sh
        exec "$DSTACK_RUNNER" --instance-id "$DSTACK_INSTANCE_ID" --state-dir "$DSTACK_INSTANCE_DIR"
        """

    override func setUp() async throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-local-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        provider = makeProvider()
    }

    override func tearDown() async throws {
        let cleaner = makeProvider(terminationGrace: 0.5)
        let leftovers = (try? await cleaner.list()) ?? []
        try? await cleaner.terminate(TerminationTarget(instanceIDs: leftovers.map(\.id)))
        try? FileManager.default.removeItem(at: home)
    }

    func makeProvider(runnerPath: String? = nil, terminationGrace: TimeInterval = 10) -> LocalProvider {
        LocalProvider(context: ProviderContext(installationID: "local-tests", home: home),
                      runnerPath: runnerPath, terminationGrace: terminationGrace)
    }

    func request(userData: String = LocalProviderTestCase.execRunnerUserData, count: Int = 1,
                 token: String = UUID().uuidString, using provider: LocalProvider? = nil) async throws -> [ManagedInstance] {
        try await (provider ?? self.provider).requestSpot(
            SpotRequest(instanceType: "local", count: count, userData: userData, idempotencyToken: token)).instances
    }

    func instanceDirectory(_ id: String) -> URL {
        home.appendingPathComponent("local/instances/\(id)")
    }

    /// Polls until `condition` holds; fails the test after `timeout`.
    func waitUntil(_ what: String, timeout: TimeInterval = 10, _ condition: () async throws -> Bool) async rethrows {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTFail("timed out after \(timeout) s waiting for \(what)")
    }

    func state(of id: String) async throws -> InstanceState? {
        try await provider.list().first { $0.id == id }?.state
    }

    func readRunnerRecord(_ id: String) -> JSONValue? {
        let path = instanceDirectory(id).appendingPathComponent("runner.json").path
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? JSONValue.parse($0) }
    }

    /// True when no process with this pid exists (reaping it first if it is our child).
    func isGone(_ pid: Int32) -> Bool {
        ProcessProbe.reap(pid)
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// Runs a command to completion and returns its trimmed standard output.
func commandOutput(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
