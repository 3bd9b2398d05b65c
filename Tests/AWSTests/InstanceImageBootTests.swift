import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The real path of a cloud launch, proved on a machine that has no Swift: the user
/// data that dstack gives an EC2 (moto) instance boots a debootstrapped Debian root in
/// its own network namespace, installs the runner's missing libraries from Debian's
/// mirror, downloads the runner from the server over HTTPS with the certificate's pin,
/// checks its SHA-256, registers, unpacks the code shipped from a git repository, and
/// runs the work. A runner given a wrong pin never registers.
final class InstanceImageBootTests: EC2EndToEndTestCase {
    var instances: [ImageInstance] = []

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("booting an instance image needs root (network namespaces, chroot)") }
        try super.setUpWithError()
    }

    override func tearDown() {
        // The server first: a socket bound to an instance's host address outlives its veth pair.
        stopServer()
        for instance in instances { instance.stop() }
        super.tearDown()
    }

    override var failureContext: String {
        instances.map { "\ninstance \($0.directory):\n\($0.userDataLog)" }.joined()
    }

    /// Instances in moto: id → user data.
    private func launchedUserData() throws -> [String: String] {
        var result: [String: String] = [:]
        for (id, facts) in try emulator()["instances"]?.objectValue?.entries ?? [] { result[id] = facts["user_data"]?.stringValue ?? "" }
        return result
    }

    /// Whether the server recorded the instance's runner as registered (no command shows it).
    private func registered(_ instanceID: String) throws -> Bool {
        try openState().read { try $0.fleetInstance(instanceID) }?.registeredAt != nil
    }

    func testTheUserDataBootsAStockImageThatFetchesThePinnedRunnerRegistersAndRunsAndAWrongPinNeverRegisters() throws {
        // The runner the server hands out links the Swift runtime statically and nothing
        // of the control plane: only what its user data can install.
        let linked = try runCommand("/usr/bin/ldd", [BuiltProducts.path("dstack-runner-linux-x86_64")]).stdout
        for absent in ["libswiftCore", "libFoundation", "libsqlite3", "libxml2", "libicu"] {
            XCTAssertFalse(linked.contains(absent), "the runner links \(absent):\n\(linked)")
        }
        for present in ["libcurl.so.4", "libcrypto.so.3", "libjansson.so.4"] { XCTAssertTrue(linked.contains(present), linked) }
        let root = try ImageInstance.root()
        let first = try ImageInstance(root: root)
        instances.append(first)
        XCTAssertFalse(first.hasFile("/usr/lib/x86_64-linux-gnu/libjansson.so.4"), "the stock image has no jansson")
        XCTAssertFalse(first.hasFile("/usr/local/bin/dstack-runner"), "nor a runner")

        try configureAWS()
        try dstack("autoscale", "allow", "m5.large", "--max", "2")

        // The server listens on the host end of the instance's veth pair and advertises it.
        let port = try MotoServer.freePort()
        let advertised = "https://\(first.hostAddress):\(port)"
        try startServer(["--host", first.hostAddress, "--advertise-url", advertised], port: port)
        try eventually("the server to start", timeout: 60) { serverOutput.contains("instances are given \(advertised)") }

        // The project: a git repository with a committed file and an uncommitted change.
        let project = home.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
        try "shipped from git\n".write(to: project.appendingPathComponent("shipped.txt"), atomically: true, encoding: .utf8)
        for command in [["init", "-q"], ["add", "shipped.txt"],
                        ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "code"]] {
            let git = try runCommand("/usr/bin/git", command, directory: project)
            XCTAssertEqual(git.status, 0, "\(git)")
        }
        try "not committed yet\n".write(to: project.appendingPathComponent("changed.txt"), atomically: true, encoding: .utf8)
        let runID = try dstack("run", "--detach", "--instance-type", "m5.large", "--", "sh", "-c",
                               "cat shipped.txt changed.txt; echo hello from $(hostname)", in: project)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var launched: (id: String, userData: String)?
        try eventually("a spot instance in the emulator", timeout: 60) {
            launched = try launchedUserData().first.map { ($0.key, $0.value) }
            return launched != nil
        }
        let (instanceID, userData) = try XCTUnwrap(launched)
        XCTAssertTrue(userData.contains("--server '\(advertised)' --server-pin 'sha256//"), userData)
        XCTAssertFalse(userData.contains(secret), "the user data carries no cloud credentials")

        try first.boot(userData: userData, instanceID: instanceID)
        try eventually("the run to finish on the booted instance", timeout: 300) {
            try run(runID)?["status"]?.stringValue == "done"
        }
        let output = try dstack("logs", runID).stdout
        XCTAssertTrue(output.contains("hello from ip-"), "the command ran inside the instance: \(output)")
        XCTAssertTrue(output.contains("shipped from git\nnot committed yet\n"), "the project's code reached the instance: \(output)")
        XCTAssertTrue(first.userDataLog.contains("installing what the runner needs:"), first.userDataLog)
        XCTAssertTrue(first.userDataLog.contains("libjansson4"), first.userDataLog)
        XCTAssertTrue(first.hasFile("/usr/local/bin/dstack-runner"), "the runner was installed from the server")

        // A second launch whose runner is given a pin that is not the server's: the
        // download (pinned right) works, the runner's own TLS check refuses the server.
        let second = try ImageInstance(root: root)
        instances.append(second)
        try dstack("instances", "request", "m5.large")
        var other: (id: String, userData: String)?
        try eventually("a second spot instance", timeout: 60) {
            other = try launchedUserData().first { $0.key != instanceID }.map { ($0.key, $0.value) }
            return other != nil
        }
        let (secondID, secondUserData) = try XCTUnwrap(other)
        let wrongPin = "sha256//" + Data(repeating: 0x5a, count: 32).base64EncodedString()
        let pinFlag = try XCTUnwrap(secondUserData.range(of: "--server-pin '"), secondUserData)
        let pinEnd = try XCTUnwrap(secondUserData.range(of: "'", range: pinFlag.upperBound..<secondUserData.endIndex))
        let tampered = secondUserData.replacingCharacters(in: pinFlag.lowerBound..<pinEnd.upperBound, with: "--server-pin '\(wrongPin)'")
        XCTAssertTrue(tampered.contains("--pinnedpubkey 'sha256//"), "the download keeps the right pin")
        // The server's address is the first instance's host end; the host answers on it
        // from any of its interfaces, so the second instance reaches it through its own.
        try second.boot(userData: tampered, instanceID: secondID)
        try eventually("the runner to refuse the server's key", timeout: 240) {
            second.userDataLog.contains("registration failed, retrying") && second.userDataLog.lowercased().contains("pinned")
        }
        XCTAssertFalse(try registered(secondID), "a runner that does not trust the server's key never registers")
        XCTAssertTrue(try registered(instanceID))
    }
}
