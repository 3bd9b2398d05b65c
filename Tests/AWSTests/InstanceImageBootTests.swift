import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The real path of a cloud launch, proved on a machine that has no Swift: the user
/// data that dstack gives an EC2 (moto) instance boots a debootstrapped Debian root in
/// its own network namespace, installs the runner's missing libraries from Debian's
/// mirror, downloads the runner from the server over HTTPS with the certificate's pin,
/// checks its SHA-256, registers, and runs the work. A runner given a wrong pin never
/// registers.
final class InstanceImageBootTests: XCTestCase {
    var moto: MotoServer!
    var home: URL!
    var server: Process?
    var serverLog: URL!
    var instances: [ImageInstance] = []
    let secret = "image-e2e-secret-value"

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("booting an instance image needs root (network namespaces, chroot)") }
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        serverLog = home.appendingPathComponent("server.log")
        moto = try MotoServer()
    }

    override func tearDown() {
        // The server first: a socket bound to an instance's host address outlives its veth pair.
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
        for instance in instances { instance.stop() }
        moto?.stop()
        if let home { try? FileManager.default.removeItem(at: home) }
    }

    private var environment: [String: String] {
        ["DSTACK_HOME": home.appendingPathComponent("dstack").path, "HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true",
         "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "DSTACK_SERVER_URL": ""]
    }

    @discardableResult
    private func dstack(_ arguments: String...) throws -> CommandResult {
        let result = try runCommand(BuiltProducts.path("dstack"), arguments, environment: environment)
        XCTAssertEqual(result.status, 0, "dstack \(arguments.joined(separator: " ")): \(result)")
        return result
    }

    private var serverOutput: String { (try? String(contentsOf: serverLog, encoding: .utf8)) ?? "" }

    /// Instances in moto: id → (state, user data).
    private func emulatorInstances() throws -> [String: (state: String, userData: String)] {
        let json = try JSONValue.parse(try runPython("""
            import base64, boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDIMAGE", aws_secret_access_key="\(secret)")
            out = {}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    raw = ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="userData").get("UserData", {}).get("Value", "")
                    out[i["InstanceId"]] = {"state": i["State"]["Name"], "user_data": base64.b64decode(raw).decode() if raw else ""}
            print(json.dumps(out))
            """))
        var result: [String: (String, String)] = [:]
        for (id, value) in json.objectValue?.entries ?? [] {
            result[id] = (value["state"]?.stringValue ?? "", value["user_data"]?.stringValue ?? "")
        }
        return result
    }

    private func eventually(_ what: String, timeout: TimeInterval, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let logs = instances.map { "instance \($0.directory):\n\($0.userDataLog)" }.joined(separator: "\n")
        XCTFail("timed out waiting for \(what)\nserver:\n\(serverOutput)\n\(logs)")
        throw MotoServerError("timed out waiting for \(what)")
    }

    private func registered(_ instanceID: String) throws -> Bool {
        let state = home.appendingPathComponent("dstack/state.db").path
        let result = try runCommand("/usr/bin/sqlite3", [state, "SELECT count(*) FROM instances WHERE id = '\(instanceID)' AND registered_at IS NOT NULL"])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    func testTheUserDataBootsAStockImageThatFetchesThePinnedRunnerRegistersAndRunsAndAWrongPinNeverRegisters() throws {
        let root = try ImageInstance.root()
        let first = try ImageInstance(root: root)
        instances.append(first)
        XCTAssertFalse(first.hasFile("/usr/lib/x86_64-linux-gnu/libjansson.so.4"), "the stock image has no jansson")
        XCTAssertFalse(first.hasFile("/usr/local/bin/dstack-runner"), "nor a runner")

        try dstack("aws", "configure", "--access-key-id", "AKIDIMAGE", "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
        try dstack("autoscale", "allow", "m5.large", "--max", "2")

        // The server listens on the host end of the instance's veth pair and advertises it.
        let port = try MotoServer.freePort()
        let advertised = "https://\(first.hostAddress):\(port)"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        server.arguments = ["server", "--host", first.hostAddress, "--port", String(port), "--reconcile-interval", "1s",
                            "--advertise-url", advertised]
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        let log = try FileHandle(forWritingTo: serverLog)
        server.standardOutput = log
        server.standardError = log
        try server.run()
        self.server = server
        try eventually("the server to start", timeout: 60) { serverOutput.contains("instances are given \(advertised)") }

        let runID = try dstack("run", "--detach", "--instance-type", "m5.large", "--", "sh", "-c", "echo hello from $(hostname)")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var launched: (id: String, userData: String)?
        try eventually("a spot instance in the emulator", timeout: 60) {
            launched = try emulatorInstances().first.map { ($0.key, $0.value.userData) }
            return launched != nil
        }
        let (instanceID, userData) = try XCTUnwrap(launched)
        XCTAssertTrue(userData.contains("--server '\(advertised)' --server-pin 'sha256//"), userData)
        XCTAssertFalse(userData.contains(secret), "the user data carries no cloud credentials")

        try first.boot(userData: userData, instanceID: instanceID)
        try eventually("the run to finish on the booted instance", timeout: 300) {
            let runs = try JSONValue.parse(try dstack("ps", "--json").stdout).arrayValue ?? []
            return runs.first { $0["id"]?.stringValue == runID }?["status"]?.stringValue == "done"
        }
        XCTAssertTrue(try dstack("logs", runID).stdout.contains("hello from ip-"), "the command ran inside the instance")
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
            other = try emulatorInstances().first { $0.key != instanceID }.map { ($0.key, $0.value.userData) }
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
