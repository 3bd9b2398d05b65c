import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The built `dstack` binary against moto: configure with piped answers, allow, reject,
/// request, list, lower the max, clear, disable, enable; boto3 confirms each step in
/// the emulator. Build the binary first (`swift build --product dstack`); a missing
/// binary fails the test with that instruction.
final class CLIEndToEndTests: XCTestCase {
    var moto: MotoServer!
    var home: URL!

    var server: Process?
    /// The server's Postgres database under DSTACK_TEST_STATE=postgres; nil: state.db.
    var databaseURL: String?

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        databaseURL = try TestStateDatabase.makeURL()
        try startServer()
    }

    override func tearDown() {
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
        BackgroundServer.stop(home: home.appendingPathComponent("dstack"))
        moto?.stop()
        XCTAssertNil(TestStateDatabase.strayStateFile(home: home.appendingPathComponent("dstack"), url: databaseURL))
        try? FileManager.default.removeItem(at: home)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func dstack(_ arguments: String..., input: String? = nil, extraEnvironment: [String: String] = [:]) throws -> Result {
        var environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("AWS_") }.mapValues { _ in "" }
        environment.merge(extraEnvironment) { _, new in new }
        // A server the CLI starts in the background keeps its state where the test's does.
        environment.merge(TestStateDatabase.environment(databaseURL)) { _, new in new }
        environment["DSTACK_HOME"] = home.appendingPathComponent("dstack").path
        environment["HOME"] = home.path
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        let result = try runCommand(try Self.dstackBinary(), arguments, environment: environment, stdin: input ?? "")
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// The server the commands reach (through server.json). Instances are given its
    /// advertise URL, which must be one they could reach; no runner boots here, so
    /// nothing needs to answer at it. It serves HTTPS with a self-signed certificate,
    /// whose pin the CLI reads from server.json.
    private func startServer() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.dstackBinary())
        process.arguments = ["server", "--port", String(try MotoServer.freePort()), "--reconcile-interval", "1s",
                             "--advertise-url", "https://dstack.invalid:3443"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("DSTACK_") }
        environment["DSTACK_HOME"] = home.appendingPathComponent("dstack").path
        environment["HOME"] = home.path
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        environment.merge(TestStateDatabase.environment(databaseURL)) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        server = process
        let deadline = Date().addingTimeInterval(60)
        while BackgroundServer.pid(home: home.appendingPathComponent("dstack")) != process.processIdentifier {
            guard Date() < deadline, process.isRunning else { throw MotoServerError("the dstack server did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// `.build*/debug/dstack` next to this test bundle, else the newest in the package.
    static func dstackBinary() throws -> String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        var candidates = [bundleDirectory.appendingPathComponent("dstack").path]
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let builds = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        candidates += builds.filter { $0.hasPrefix(".build") }.map { root.appendingPathComponent("\($0)/debug/dstack").path }
        let found = candidates.filter { FileManager.default.isExecutableFile(atPath: $0) }
        guard let newest = found.max(by: { modified($0) < modified($1) }) else {
            throw MotoServerError("no dstack binary in \(candidates); run `swift build --product dstack` first")
        }
        return newest
    }

    private static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }

    func info() throws -> JSONValue {
        let result = try dstack("autoscale", "info", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONValue.parse(result.stdout)
    }

    func emulatorStates(_ key: (String, String)) throws -> [String: String] {
        let script = """
            import boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="\(key.0)", aws_secret_access_key="\(key.1)")
            out = {}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    out[i["InstanceId"]] = i["State"]["Name"]
            for s in ec2.describe_spot_instance_requests()["SpotInstanceRequests"]:
                out[s["SpotInstanceRequestId"]] = s["State"]
            print(json.dumps(out))
            """
        let parsed = try JSONValue.parse(try runPython(script))
        var states: [String: String] = [:]
        for (key, value) in parsed.objectValue?.entries ?? [] { states[key] = value.stringValue }
        return states
    }

    func testTheWholeAutoscaleFlowAgainstTheEmulator() throws {
        moto = try MotoServer()
        try runFlow(accessKey: "AKIDE2E", secret: "e2e-secret")
    }

    /// The same flow with moto's IAM enforcement on and a key holding exactly the seed's
    /// permissions; first a wrong secret, which must be rejected with nothing saved.
    func testTheFlowUnderIAMEnforcementWithTheSeedPolicyAndAWrongSecretFirst() throws {
        moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        let actions = IAMEnforcementTests.seedActions.map { "\"\($0)\"" }.joined(separator: ", ")
        let keyJSON = try runPython("""
            import boto3, json
            iam = boto3.client("iam", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            iam.create_user(UserName="dstack")
            iam.put_user_policy(UserName="dstack", PolicyName="dstack", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [\(actions)], "Resource": "*"}]}))
            key = iam.create_access_key(UserName="dstack")["AccessKey"]
            print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
            """)
        let key = try XCTUnwrap(JSONValue.parse(keyJSON).arrayValue?.compactMap(\.stringValue))

        let rejected = try dstack("aws", "configure", "--endpoint-url", moto.url, input: "\(key[0])\n\(key[1])WRONG\nus-east-1\n\n")
        XCTAssertNotEqual(rejected.status, 0)
        XCTAssertTrue(rejected.stderr.contains("credentials were rejected"), rejected.stderr)
        XCTAssertFalse(rejected.stderr.contains(key[1]), "the secret must never be printed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("dstack/config.json").path),
                       "a rejected configuration saves nothing")

        try runFlow(accessKey: key[0], secret: key[1])
    }

    private func runFlow(accessKey: String, secret: String) throws {
        // Configure, answering the four prompts on standard input.
        let configure = try dstack("aws", "configure", "--endpoint-url", moto.url, input: "\(accessKey)\n\(secret)\nus-east-1\n\n")
        XCTAssertEqual(configure.status, 0, configure.stderr)
        for prompt in ["AWS Access Key ID [None]", "AWS Secret Access Key [None]", "Region name", "Artifact S3 bucket [None]"] {
            XCTAssertTrue(configure.stdout.contains(prompt + ": "), "missing prompt \(prompt): \(configure.stdout)")
        }
        XCTAssertFalse(configure.stdout.contains(secret))

        // Allow a real type; refuse a bogus one without changing anything.
        XCTAssertEqual(try dstack("autoscale", "allow", "m5.xlarge", "--max", "2").status, 0)
        let bogus = try dstack("autoscale", "allow", "m5.bogus", "--max", "1")
        XCTAssertNotEqual(bogus.status, 0)
        XCTAssertTrue(bogus.stderr.contains("m5.bogus"), bogus.stderr)
        try assertOneRule(try info(), max: 2)

        // Request two instances and see them listed, here and in the emulator.
        let request = try dstack("instances", "request", "m5.xlarge", "--count", "2")
        XCTAssertEqual(request.status, 0, request.stderr)
        let listed = try dstack("instances", "list", "--json")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let instances = try XCTUnwrap(JSONValue.parse(listed.stdout).arrayValue)
        let ids = instances.compactMap { $0["id"]?.stringValue }
        XCTAssertEqual(ids.count, 2)
        var states = try emulatorStates((accessKey, secret))
        for id in ids { XCTAssertEqual(states[id], "running", "EC2 holds \(id) as running") }
        XCTAssertEqual(try info()["rules"]?.arrayValue?.first?["instances"], .int(2))

        // Lower the max: one instance goes, in the emulator too, with its spot request.
        let lower = try dstack("autoscale", "allow", "m5.xlarge", "--max", "1")
        XCTAssertEqual(lower.status, 0, lower.stderr)
        XCTAssertTrue(lower.stdout.contains("Shut down 1"), lower.stdout)
        XCTAssertEqual(try info()["rules"]?.arrayValue?.first?["instances"], .int(1))
        states = try emulatorStates((accessKey, secret))
        XCTAssertEqual(ids.filter { states[$0] == "running" }.count, 1, "\(states)")
        XCTAssertEqual(ids.filter { ["shutting-down", "terminated"].contains(states[$0]) }.count, 1, "\(states)")

        // Clear: no rules, nothing running.
        XCTAssertEqual(try dstack("autoscale", "clear").status, 0)
        XCTAssertEqual(try info(), try JSONValue.parse(#"{"enabled": true, "provider": "aws", "rules": []}"#))
        states = try emulatorStates((accessKey, secret))
        XCTAssertTrue(ids.allSatisfy { states[$0] != "running" }, "\(states)")
        XCTAssertFalse(states.contains { $0.key.hasPrefix("sir-") && ["open", "active"].contains($0.value) },
                       "every spot request was cancelled: \(states)")

        // Disable and enable are idempotent and keep the rules.
        XCTAssertEqual(try dstack("autoscale", "allow", "m5.xlarge", "--max", "3").status, 0)
        XCTAssertEqual(try dstack("autoscale", "disable").status, 0)
        XCTAssertEqual(try dstack("autoscale", "disable").status, 0)
        XCTAssertEqual(try info()["enabled"], .bool(false))
        XCTAssertEqual(try dstack("autoscale", "enable").status, 0)
        try assertOneRule(try info(), max: 3)
    }
}

extension CLIEndToEndTests {
    /// The one m5.xlarge rule, with its spot price and zone when the emulator prices it.
    func assertOneRule(_ info: JSONValue, max: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(info["enabled"], .bool(true), file: file, line: line)
        XCTAssertEqual(info["provider"]?.stringValue, "aws", file: file, line: line)
        let rules = try XCTUnwrap(info["rules"]?.arrayValue, file: file, line: line)
        XCTAssertEqual(rules.count, 1, file: file, line: line)
        XCTAssertEqual(rules.first?["instance_type"]?.stringValue, "m5.xlarge", file: file, line: line)
        XCTAssertEqual(rules.first?["max"]?.intValue, Int64(max), file: file, line: line)
        XCTAssertEqual(rules.first?["instances"]?.intValue, 0, file: file, line: line)
        XCTAssertEqual(rules.first?["on_rebalance"]?.stringValue, "ignore", file: file, line: line)
        XCTAssertEqual(rules.first?["zone"]?.stringValue == nil, rules.first?["spot_price"]?.doubleValue == nil,
                       "a price goes with its zone: \(info)", file: file, line: line)
    }
}
