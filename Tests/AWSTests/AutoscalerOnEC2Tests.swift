import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Issue 4's promise on AWS, against moto: runs make dstack request spot instances of
/// the right type and count; their user data boots the real dstack-runner (started
/// here, with the instance ID moto gave) and carries no AWS credentials; the runs
/// finish; idle instances are terminated and their spot requests cancelled.
final class AutoscalerOnEC2Tests: EC2EndToEndTestCase {
    var runners: [Process] = []

    override func tearDown() {
        for runner in runners where runner.isRunning { runner.terminate(); runner.waitUntilExit() }
        super.tearDown()
    }

    func testRunsLaunchSpotInstancesWhoseRunnersDoTheWorkAndIdleOnesAreTornDown() throws {
        try configureAWS()
        try dstack("autoscale", "allow", "m5.large", "--max", "2")

        // The runners start on this machine (from their user data, with moto's instance IDs),
        // so a loopback URL reaches them; a real cloud's instances need --advertise-url.
        let port = try startServer(["--idle-timeout", "3s", "--allow-loopback-advertise"])
        let serverURL = "http://127.0.0.1:\(port)"

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

    func testWithALoopbackAdvertiseURLTheServerLaunchesNothingAndTheRunSaysWhy() throws {
        try configureAWS()
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
        try configureAWS()
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
