import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Issue 12's "failed launches end the run", against moto: no runner ever registers
/// (none is started here, as on a real instance that cannot reach the server), so each
/// launch times out; after `--max-provisioning-attempts` launches the run fails naming
/// the server URL the instances were given, and nothing is left running or open.
final class ProvisioningFailureOnEC2Tests: XCTestCase {
    var moto: MotoServer!
    var home: URL!
    var server: Process?
    var serverLog: URL!
    let secret = "ec2-provisioning-secret"

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-ec2-prov-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        serverLog = home.appendingPathComponent("server.log")
        moto = try MotoServer()
    }

    override func tearDown() {
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
        moto?.stop()
        try? FileManager.default.removeItem(at: home)
    }

    private var environment: [String: String] {
        ["DSTACK_HOME": home.appendingPathComponent("dstack").path, "HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true",
         "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""]
    }

    @discardableResult
    private func dstack(_ arguments: String..., serverURL: String? = nil) throws -> CommandResult {
        var env = environment
        if let serverURL { env["DSTACK_SERVER_URL"] = serverURL }
        let result = try runCommand(BuiltProducts.path("dstack"), arguments, environment: env)
        XCTAssertEqual(result.status, 0, "dstack \(arguments.joined(separator: " ")): \(result)")
        return result
    }

    /// boto3's view: every instance's state, and every spot request's state.
    private func emulator() throws -> JSONValue {
        try JSONValue.parse(try runPython("""
            import boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDPROV", aws_secret_access_key="\(secret)")
            out = {"instances": {}, "requests": {}}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    out["instances"][i["InstanceId"]] = i["State"]["Name"]
            for s in ec2.describe_spot_instance_requests()["SpotInstanceRequests"]:
                out["requests"][s["SpotInstanceRequestId"]] = s["State"]
            print(json.dumps(out))
            """))
    }

    private func run(_ id: String) throws -> JSONValue? {
        try JSONValue.parse(try dstack("ps", "--all", "--json").stdout).arrayValue?.first { $0["id"]?.stringValue == id }
    }

    func testARunWhoseRunnersNeverRegisterFailsAfterThreeLaunchesAndLeavesNothingRunningOrOpen() throws {
        try dstack("aws", "configure", "--access-key-id", "AKIDPROV", "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
        try dstack("autoscale", "allow", "m5.large", "--max", "1")

        let port = try MotoServer.freePort()
        let serverURL = "http://127.0.0.1:\(port)"
        // The URL the instances are told: an address the instances cannot reach, as when
        // a server runs behind NAT. No runner is started for them.
        let advertised = "https://10.0.0.5:\(port)"
        _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        server.arguments = ["server", "--port", String(port), "--reconcile-interval", "1s", "--advertise-url", advertised,
                            "--provisioning-timeout", "3s", "--max-provisioning-attempts", "3"]
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = try FileHandle(forWritingTo: serverLog)
        try server.run()
        self.server = server

        let id = try dstack("run", "--detach", "--instance-type", "m5.large", "--", "true", serverURL: serverURL)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let deadline = Date().addingTimeInterval(120)
        while try run(id)?["status"]?.stringValue != "failed", Date() < deadline { Thread.sleep(forTimeInterval: 0.5) }
        let record = try XCTUnwrap(try run(id))
        let log = (try? String(contentsOf: serverLog, encoding: .utf8)) ?? ""
        XCTAssertEqual(record["status"]?.stringValue, "failed", "server log:\n\(log)")
        XCTAssertEqual(record["reason"]?.stringValue, """
            3 instances of m5.large were launched for this run and none of their runners registered with \(advertised) \
            within 3s; check that instances can reach that URL (dstack server --advertise-url) and that the runner can \
            start there (see the instance's console output)
            """)

        // Give the pass that failed the run time to finish terminating, then a few more passes.
        Thread.sleep(forTimeInterval: 3)
        let cloud = try emulator()
        let instances = try XCTUnwrap(cloud["instances"]?.objectValue)
        XCTAssertEqual(instances.count, 3, "one instance per attempt, no more: \(cloud)")
        for (instance, state) in instances.entries {
            XCTAssertTrue(["shutting-down", "terminated"].contains(state.stringValue ?? ""), "\(instance) is \(state)")
        }
        for (request, state) in cloud["requests"]?.objectValue?.entries ?? [] {
            XCTAssertFalse(["open", "active"].contains(state.stringValue ?? ""), "spot request \(request) is \(state)")
        }
        let listed = try JSONValue.parse(try dstack("instances", "--json").stdout).arrayValue ?? []
        XCTAssertFalse(listed.contains { ["pending", "running"].contains($0["state"]?.stringValue ?? "") },
                       "dstack's own list shows nothing running: \(listed)")
    }
}
