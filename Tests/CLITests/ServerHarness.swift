import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A `dstack server` the test starts on a free port, with its output in a file.
final class ServerProcess {
    let process = Process()
    let port: Int
    let logFile: URL
    private let log: FileHandle

    /// Starts on `port`, or on a free one (bound once to learn it, then let go).
    init(home: URL, arguments: [String], port: Int? = nil, environment: [String: String] = [:]) throws {
        // One server per home: the one a CLI may have started in the background gives way.
        BackgroundServer.stop(home: home)
        self.port = try port ?? LocalPort.free()
        logFile = home.deletingLastPathComponent().appendingPathComponent("server-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        log = try FileHandle(forWritingTo: logFile)
        process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        process.arguments = ["server", "--port", String(self.port)] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(["DSTACK_HOME": home.path]) { _, new in new })
            { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var output: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits until the server answers on its port.
    func waitUntilListening() throws {
        let client = CurlHTTPClient(options: .init(connectTimeout: 0.5, totalTimeout: 1, proxy: ProxySettings()))
        try eventually("the server to listen on \(url); output: \(output)", timeout: 60) {
            (try? client.sendBlocking(HTTPRequest(method: "POST", url: url + RunnerAPI.wakePath, body: "")))?.status == 204
        }
    }

    func stop(signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    deinit {
        stop(signal: SIGKILL)
        try? log.close()
        try? FileManager.default.removeItem(at: logFile)
    }
}

/// Polls `condition` until it holds; fails with `what` after `timeout` seconds. A bound
/// on waiting, not a speed check.
func eventually(_ what: String, timeout: TimeInterval = 60, interval: TimeInterval = 0.1,
                _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: interval)
    }
    XCTFail("timed out after \(Int(timeout)) s waiting for \(what)")
    throw EventuallyTimeout()
}

struct EventuallyTimeout: Error {}

extension CLITestCase {
    /// Starts `dstack server` for this home (on `port`, else a free one), points the
    /// commands at it and waits until it answers.
    @discardableResult
    func startServer(_ arguments: String..., interval: String = "1s", port: Int? = nil) throws -> ServerProcess {
        try startServer(arguments: arguments, interval: interval, port: port)
    }

    /// The same, with the arguments as an array. The server keeps its state where the
    /// commands' background server would (DSTACK_DATABASE_URL under DSTACK_TEST_STATE).
    @discardableResult
    func startServer(arguments: [String], interval: String = "1s", port: Int? = nil) throws -> ServerProcess {
        let started = try ServerProcess(home: home, arguments: ["--reconcile-interval", interval] + arguments, port: port,
                                        environment: stateEnvironment)
        servers.append(started)
        commandEnvironment["DSTACK_SERVER_URL"] = started.url
        try started.waitUntilListening()
        return started
    }

    /// What a server the test starts itself needs to keep its state where the commands'
    /// servers do: DSTACK_DATABASE_URL under DSTACK_TEST_STATE=postgres, else nothing.
    var stateEnvironment: [String: String] {
        commandEnvironment.filter { $0.key == "DSTACK_DATABASE_URL" }
    }

    /// `dstack ps --json` as a list of objects.
    func runs() throws -> [JSONValue] {
        try JSONValue.parse(try ok("ps", "--all", "--json")).arrayValue ?? []
    }

    func run(_ id: String) throws -> JSONValue? {
        try runs().first { $0["id"]?.stringValue == id }
    }

    func status(_ id: String) throws -> String? {
        try run(id)?["status"]?.stringValue
    }

    func liveInstances() throws -> [JSONValue] {
        (try JSONValue.parse(try ok("instances", "--json")).arrayValue ?? []).filter {
            ["pending", "running"].contains($0["state"]?.stringValue ?? "")
        }
    }

    /// Submits a detached run and returns its ID.
    func submit(_ arguments: String..., server: ServerProcess) throws -> String {
        let result = try dstack(["run", "--detach"] + arguments, environment: ["DSTACK_SERVER_URL": server.url])
        XCTAssertEqual(result.status, 0, result.description)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The pid the local provider recorded for an instance's runner.
    func runnerPID(_ instanceID: String) throws -> Int32 {
        let record = try JSONValue.parse(String(contentsOf: home.appendingPathComponent("local/instances/\(instanceID)/instance.json"),
                                                encoding: .utf8))
        return Int32(try XCTUnwrap(record["pid"]?.intValue))
    }
}
