import DstackCore
import DstackTesting
import Foundation
import XCTest

/// What every end-to-end test against moto shares: a moto server of its own, a scratch
/// DSTACK_HOME that sees none of the caller's AWS settings, the built `dstack`, a
/// `dstack server` with its output in a file, and boto3's view of what the emulator holds.
/// The server keeps its state in the home's state.db, or in a Postgres database of the
/// test's own under DSTACK_TEST_STATE=postgres (make test's second run).
class EC2EndToEndTestCase: XCTestCase {
    var moto: MotoServer!
    var home: URL!
    /// The test's Postgres database under DSTACK_TEST_STATE=postgres; nil: state.db.
    var databaseURL: String?
    var server: Process?
    var serverLog: URL!
    let accessKey = "AKIDEC2E2E"
    let secret = "ec2-e2e-secret-value"

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-ec2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        serverLog = home.appendingPathComponent("server.log")
        databaseURL = try TestStateDatabase.makeURL()
        moto = try MotoServer()
    }

    override func tearDown() {
        stopServer()
        if let home { BackgroundServer.stop(home: home.appendingPathComponent("dstack")) }
        moto?.stop()
        if let home {
            XCTAssertNil(TestStateDatabase.strayStateFile(home: home.appendingPathComponent("dstack"), url: databaseURL))
            try? FileManager.default.removeItem(at: home)
        }
    }

    func stopServer() {
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
    }

    /// The commands' and the server's: the server the CLI starts in the background keeps
    /// its state where the test's own server does.
    var environment: [String: String] {
        ["DSTACK_HOME": home.appendingPathComponent("dstack").path, "HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true",
         "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "DSTACK_SERVER_URL": ""]
            .merging(TestStateDatabase.environment(databaseURL)) { _, new in new }
    }

    /// The state the test's servers keep (state.db, or the test's Postgres database), for
    /// what no command shows (a log line's time, a cooldown, a registration).
    func openState() throws -> StateStore {
        try StateStore(home: DstackHome(url: home.appendingPathComponent("dstack")),
                       databaseURL: try databaseURL.map { try DatabaseURL(parsing: $0) })
    }

    /// Runs `dstack` and asserts that it succeeded.
    @discardableResult
    func dstack(_ arguments: String..., serverURL: String? = nil, in directory: URL? = nil) throws -> CommandResult {
        var env = environment
        if let serverURL { env["DSTACK_SERVER_URL"] = serverURL }
        let result = try runCommand(BuiltProducts.path("dstack"), arguments, environment: env, directory: directory)
        XCTAssertEqual(result.status, 0, "dstack \(arguments.joined(separator: " ")): \(result)")
        return result
    }

    func configureAWS() throws {
        try dstack("aws", "configure", "--access-key-id", accessKey, "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", moto.url)
    }

    /// Starts `dstack server` on a free port (its output in `serverLog`); returns the port.
    @discardableResult
    func startServer(_ arguments: [String], port: Int? = nil) throws -> Int {
        // One server per home: the one the CLI started in the background gives way.
        BackgroundServer.stop(home: home.appendingPathComponent("dstack"))
        let port = try port ?? MotoServer.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        server.arguments = ["server", "--port", String(port), "--reconcile-interval", "1s"] + arguments
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        let log = try FileHandle(forWritingTo: serverLog)
        server.standardOutput = log
        server.standardError = log
        try server.run()
        self.server = server
        // The CLI is the server's client: the commands that follow need it listening.
        let deadline = Date().addingTimeInterval(60)
        while BackgroundServer.pid(home: home.appendingPathComponent("dstack")) != server.processIdentifier {
            guard Date() < deadline, server.isRunning else { throw MotoServerError("the dstack server did not start:\n\(serverOutput)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return port
    }

    var serverOutput: String { (try? String(contentsOf: serverLog, encoding: .utf8)) ?? "" }

    /// Boots every running instance moto holds that is not in `runners` yet, as a stock
    /// image would: `sh` runs its user data, which fetches the runner from the server;
    /// the runner reads its spot notices from `metadata`.
    func bootNewInstances(_ runners: inout [String: Process], metadata: StubMetadataService) throws {
        for (instanceID, facts) in try emulator()["instances"]?.objectValue?.entries ?? []
        where runners[instanceID] == nil && facts["state"]?.stringValue == "running" {
            let script = home.appendingPathComponent("\(instanceID).sh")
            try (facts["user_data"]?.stringValue ?? "").write(to: script, atomically: true, encoding: .utf8)
            let runner = Process()
            runner.executableURL = URL(fileURLWithPath: "/bin/sh")
            runner.arguments = [script.path]
            runner.environment = ["PATH": "/usr/bin:/bin",
                                  "DSTACK_RUNNER": home.appendingPathComponent("bin-\(instanceID)/dstack-runner").path,
                                  "DSTACK_INSTANCE_ID": instanceID, "DSTACK_ORPHAN_ACTION": "exit",
                                  "DSTACK_INSTANCE_DIR": home.appendingPathComponent("runner-\(instanceID)").path,
                                  "DSTACK_METADATA_URL": metadata.baseURL(instance: instanceID)]
            runner.standardOutput = FileHandle.nullDevice
            runner.standardError = FileHandle.nullDevice
            try runner.run()
            runners[instanceID] = runner
        }
    }

    /// What moto holds: instances (id → state, type, spot request, user data) and spot requests (id → state).
    func emulator() throws -> JSONValue {
        try JSONValue.parse(try runPython("""
            import base64, boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="\(accessKey)", aws_secret_access_key="\(secret)")
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

    /// `dstack ps --all --json`'s record of one run.
    func run(_ id: String) throws -> JSONValue? {
        try JSONValue.parse(try dstack("ps", "--all", "--json").stdout).arrayValue?.first { $0["id"]?.stringValue == id }
    }

    /// More to print when a wait times out (a subclass's own logs).
    var failureContext: String { "" }

    /// Polls `condition` until it holds; fails after `timeout` seconds with the server's output.
    func eventually(_ what: String, timeout: TimeInterval = 90, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.25)
        }
        XCTFail("timed out waiting for \(what)\nserver:\n\(serverOutput)\(failureContext)")
        throw MotoServerError("timed out waiting for \(what)")
    }
}
