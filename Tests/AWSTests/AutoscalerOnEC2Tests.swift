import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Issue 4's promise on AWS, against moto: runs make dstack request spot instances of
/// the right type and count; their user data boots the real dstack-runner (started
/// here, with the instance ID moto gave) and carries no AWS credentials; the runs
/// finish; idle instances are terminated and their spot requests cancelled.
final class AutoscalerOnEC2Tests: XCTestCase {
    var moto: MotoServer!
    var home: URL!
    var server: Process?
    var runners: [Process] = []
    let secret = "ec2-e2e-secret-value"

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-ec2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        moto = try MotoServer()
    }

    override func tearDown() {
        for runner in runners where runner.isRunning { runner.terminate(); runner.waitUntilExit() }
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

    /// What moto holds: instances (id → state, type, spot request, user data) and spot requests (id → state).
    private func emulator() throws -> JSONValue {
        try JSONValue.parse(try runPython("""
            import base64, boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDEC2E2E", aws_secret_access_key="\(secret)")
            out = {"instances": {}, "requests": {}}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    data = ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="userData")
                    raw = data.get("UserData", {}).get("Value", "")
                    out["instances"][i["InstanceId"]] = {"state": i["State"]["Name"], "type": i["InstanceType"],
                        "request": i.get("SpotInstanceRequestId"), "user_data": base64.b64decode(raw).decode() if raw else ""}
            for s in ec2.describe_spot_instance_requests()["SpotInstanceRequests"]:
                out["requests"][s["SpotInstanceRequestId"]] = s["State"]
            print(json.dumps(out))
            """))
    }

    private func eventually(_ what: String, timeout: TimeInterval = 90, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.25)
        }
        XCTFail("timed out waiting for \(what)")
        throw MotoServerError("timed out waiting for \(what)")
    }

    func testRunsLaunchSpotInstancesWhoseRunnersDoTheWorkAndIdleOnesAreTornDown() throws {
        try dstack("aws", "configure", "--access-key-id", "AKIDEC2E2E", "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
        try dstack("autoscale", "allow", "m5.large", "--max", "2")

        let port = try MotoServer.freePort()
        let serverURL = "http://127.0.0.1:\(port)"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        // The runners start on this machine (from their user data, with moto's instance IDs),
        // so a loopback URL reaches them; a real cloud's instances need --advertise-url.
        server.arguments = ["server", "--port", String(port), "--reconcile-interval", "1s", "--idle-timeout", "3s",
                            "--allow-loopback-advertise"]
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        self.server = server

        let ids = try (1...2).map { index in
            try dstack("run", "--detach", "--instance-type", "m5.large", "--", "echo", "hello from run \(index)", serverURL: serverURL)
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // Two runs, max 2: two m5.large spot instances, and no more.
        try eventually("two spot instances in the emulator") { try emulator()["instances"]?.objectValue?.count == 2 }
        let launched = try emulator()
        let instances = try XCTUnwrap(launched["instances"]?.objectValue)
        XCTAssertEqual(Set(instances.entries.compactMap { $0.value["type"]?.stringValue }), ["m5.large"])
        XCTAssertEqual(launched["requests"]?.objectValue?.count, 2)

        for (instanceID, facts) in instances.entries {
            let userData = try XCTUnwrap(facts["user_data"]?.stringValue)
            XCTAssertTrue(userData.contains("dstack runner bootstrap"), userData)
            XCTAssertTrue(userData.contains("--server '\(serverURL)'"), userData)
            XCTAssertTrue(userData.contains("export DSTACK_REGISTRATION_TOKEN='"), userData)
            for credential in [secret, "AKIDEC2E2E", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws_secret"] {
                XCTAssertFalse(userData.contains(credential), "user data carries \(credential)")
            }
            // Boot it as the instance would, on this machine, with the ID moto gave it.
            let script = home.appendingPathComponent("\(instanceID).sh")
            try userData.write(to: script, atomically: true, encoding: .utf8)
            let runner = Process()
            runner.executableURL = URL(fileURLWithPath: "/bin/sh")
            runner.arguments = [script.path]
            // The user data downloads the runner from the server and checks its SHA-256
            // before starting it; it lands here rather than in /usr/local/bin.
            XCTAssertTrue(userData.contains("/api/runners/binary/x86_64"), userData)
            XCTAssertTrue(userData.contains("sha256sum -c"), userData)
            runner.environment = ["PATH": "/usr/bin:/bin", "DSTACK_RUNNER": home.appendingPathComponent("bin-\(instanceID)/dstack-runner").path,
                                  "DSTACK_INSTANCE_ID": instanceID, "DSTACK_ORPHAN_ACTION": "exit",
                                  "DSTACK_INSTANCE_DIR": home.appendingPathComponent("runner-\(instanceID)").path]
            runner.standardOutput = FileHandle.nullDevice
            runner.standardError = FileHandle.nullDevice
            try runner.run()
            runners.append(runner)
        }

        try eventually("both runs to finish on the spot runners") {
            let runs = try JSONValue.parse(try dstack("ps", "--json").stdout).arrayValue ?? []
            return runs.count == 2 && runs.allSatisfy { $0["status"] == "done" }
        }
        for (index, id) in ids.enumerated() {
            XCTAssertTrue(try dstack("logs", id).stdout.contains("hello from run \(index + 1)"))
        }

        try eventually("the idle instances to be terminated and their spot requests cancelled") {
            let state = try emulator()
            let instancesGone = state["instances"]?.objectValue?.entries.allSatisfy {
                ["shutting-down", "terminated"].contains($0.value["state"]?.stringValue ?? "")
            } ?? false
            let requestsGone = state["requests"]?.objectValue?.entries.allSatisfy {
                ["cancelled", "closed"].contains($0.value.stringValue ?? "")
            } ?? true
            return instancesGone && requestsGone
        }
    }

    private func startServer(_ extra: [String]) throws -> Int {
        let port = try MotoServer.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        server.arguments = ["server", "--port", String(port), "--reconcile-interval", "1s"] + extra
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        self.server = server
        return port
    }

    func testWithALoopbackAdvertiseURLTheServerLaunchesNothingAndTheRunSaysWhy() throws {
        try dstack("aws", "configure", "--access-key-id", "AKIDEC2E2E", "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
        try dstack("autoscale", "allow", "m5.large", "--max", "2")
        let port = try startServer([])
        let serverURL = "http://127.0.0.1:\(port)"
        let id = try dstack("run", "--detach", "--instance-type", "m5.large", "--", "true", serverURL: serverURL)
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let expected = "instances could not reach \(serverURL); start the server with --advertise-url https://HOST:PORT"
        try eventually("the run to say why nothing launches", timeout: 30) {
            let runs = try JSONValue.parse(try dstack("ps", "--json").stdout).arrayValue ?? []
            return runs.first { $0["id"]?.stringValue == id }?["reason"]?.stringValue == expected
        }
        Thread.sleep(forTimeInterval: 2) // a few more passes
        let held = try emulator()
        XCTAssertEqual(held["instances"]?.objectValue?.count ?? 0, 0, "no instance was launched: \(held)")
        XCTAssertEqual(held["requests"]?.objectValue?.count ?? 0, 0, "no spot request was made: \(held)")
    }

    func testAnArm64TypeIsRefusedAtAllowWithoutARunnerForItAndAcceptedWithARunnerURL() throws {
        try dstack("aws", "configure", "--access-key-id", "AKIDEC2E2E", "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
        let refused = try runCommand(BuiltProducts.path("dstack"), ["autoscale", "allow", "m6g.large", "--max", "1"],
                                     environment: environment)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("m6g.large is an arm64 type"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--runner-url"), refused.stderr)
        let info = try JSONValue.parse(try dstack("autoscale", "info", "--json").stdout)
        XCTAssertEqual(info["rules"]?.arrayValue?.count, 0, "nothing changed: \(info)")

        try dstack("aws", "configure", "--runner-url", "https://downloads.example.com/dstack-runner-arm64", "--no-verify")
        try dstack("autoscale", "allow", "m6g.large", "--max", "1")
        try dstack("autoscale", "allow", "m5.large", "--max", "1") // x86_64: this dstack has that runner
    }
}
