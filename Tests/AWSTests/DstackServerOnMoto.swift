import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A `dstack server` for one test, started with exactly the environment the test gives
/// it (nothing of the machine's AWS_* or DSTACK_* variables), and the `dstack` CLI
/// pointed at it with every AWS_* variable blanked: the server's environment is the one
/// that counts; its state is state.db, or a Postgres database of its own under
/// DSTACK_TEST_STATE=postgres. `stop()` ends the server by its PID.
final class DstackServerOnMoto {
    let home: URL
    /// The server's Postgres database under DSTACK_TEST_STATE=postgres; nil: state.db.
    let databaseURL: String?
    /// The server's HOME (where its ~/.aws lives); the CLI gets another one.
    let serverHome: URL
    let cliHome: URL
    private(set) var server: Process?

    init() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-moto-\(UUID().uuidString)")
        serverHome = home.appendingPathComponent("server-home")
        cliHome = home.appendingPathComponent("cli-home")
        databaseURL = try TestStateDatabase.makeURL()
        for directory in [serverHome, cliHome] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }

    var dstackHome: URL { home.appendingPathComponent("dstack") }
    var configJSON: String { (try? String(contentsOf: dstackHome.appendingPathComponent("config.json"), encoding: .utf8)) ?? "" }

    /// Starts the server with `environment` laid over a clean one (PATH and the like, HOME
    /// = `serverHome`, no IMDS unless the test points AWS_EC2_METADATA_SERVICE_ENDPOINT at one).
    func start(environment extra: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLIEndToEndTests.dstackBinary())
        process.arguments = ["server", "--port", String(try LocalPort.free()), "--reconcile-interval", "1s",
                             "--advertise-url", "https://dstack.invalid:3443"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("DSTACK_") }
        environment["DSTACK_HOME"] = dstackHome.path
        environment["HOME"] = serverHome.path
        environment.merge(TestStateDatabase.environment(databaseURL)) { _, new in new }
        if extra["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == nil { environment["AWS_EC2_METADATA_DISABLED"] = "true" }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        server = process
        let deadline = Date().addingTimeInterval(60)
        while BackgroundServer.pid(home: dstackHome) != process.processIdentifier {
            guard Date() < deadline, process.isRunning else { throw MotoServerError("the dstack server did not start") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The CLI, with no AWS_* variable of its own.
    func dstack(_ arguments: String..., input: String = "") throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("AWS_") }.mapValues { _ in "" }
        environment["DSTACK_HOME"] = dstackHome.path
        environment["HOME"] = cliHome.path
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        // A server the CLI starts in the background keeps its state where the test's does.
        environment.merge(TestStateDatabase.environment(databaseURL)) { _, new in new }
        return try runCommand(try CLIEndToEndTests.dstackBinary(), arguments, environment: environment, stdin: input)
    }

    func stop() {
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
        BackgroundServer.stop(home: dstackHome)
        XCTAssertNil(TestStateDatabase.strayStateFile(home: dstackHome, url: databaseURL))
        try? FileManager.default.removeItem(at: home)
    }
}

/// An IAM user of moto with `policy`, made before enforcement starts (3 calls); its key.
func makeMotoUser(_ moto: MotoServer, name: String, policy: String) throws -> (id: String, secret: String) {
    let pair = try JSONValue.parse(try runPython("""
        import boto3, json
        iam = boto3.client("iam", endpoint_url="\(moto.url)", region_name="us-east-1",
                           aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
        iam.create_user(UserName="\(name)")
        iam.put_user_policy(UserName="\(name)", PolicyName="dstack", PolicyDocument='\(policy)')
        key = iam.create_access_key(UserName="\(name)")["AccessKey"]
        print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
        """)).arrayValue?.compactMap(\.stringValue) ?? []
    guard pair.count == 2 else { throw MotoServerError("moto made no access key for \(name)") }
    return (pair[0], pair[1])
}
