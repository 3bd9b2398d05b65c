import DstackTesting
import DstackWire
import Foundation
import XCTest

/// A real `dstack server` on a free loopback port, in a temporary DSTACK_HOME, with the
/// local provider configured and allowed: what the page and /metrics are tested against.
/// Its state is the home's state.db, or a Postgres database of its own under
/// DSTACK_TEST_STATE=postgres. The server is stopped by its PID (SIGTERM, then SIGKILL) in `stop()`.
final class WebServerHarness {
    let home: URL
    /// The server's Postgres database under DSTACK_TEST_STATE=postgres; nil: state.db.
    let databaseURL: String?
    let port: Int
    let process = Process()
    let logFile: URL
    private let log: FileHandle

    init(arguments: [String] = []) throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        port = try LocalPort.free()
        databaseURL = try TestStateDatabase.makeURL()
        logFile = home.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        log = try FileHandle(forWritingTo: logFile)
        process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
        process.arguments = ["server", "--port", String(port), "--reconcile-interval", "1s", "--idle-timeout", "10m"] + arguments
        process.environment = ProcessInfo.processInfo.environment
            .merging(TestStateDatabase.environment(databaseURL).merging(["DSTACK_HOME": home.path]) { _, new in new }) { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntil("the server to answer on \(url); its log: \(output)") {
            (try? get("/api/v1/health"))?.status == 200
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var output: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    var adminToken: String {
        (try? String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Runs the built `dstack` against this server as the admin.
    @discardableResult
    func dstack(_ arguments: String...) throws -> String {
        let result = try runCommand(BuiltProducts.path("dstack"), arguments,
                                    environment: ["DSTACK_HOME": home.path, "DSTACK_SERVER_URL": url], directory: home)
        guard result.status == 0 else { throw HarnessError("dstack \(arguments.joined(separator: " ")) failed: \(result)") }
        return result.stdout
    }

    /// The local provider, allowed `max` instances.
    func configureLocal(max: Int = 2) throws {
        try dstack("local", "configure")
        try dstack("autoscale", "allow", "local", "--max", String(max))
    }

    /// A new user's token (`dstack users add`).
    func addUser(_ name: String) throws -> String {
        let out = try dstack("users", "add", name)
        guard let token = out.split(separator: "\n").last.map(String.init), !token.isEmpty else {
            throw HarnessError("dstack users add printed no token: \(out)")
        }
        return token
    }

    func get(_ path: String, token: String? = nil) throws -> HTTPResponse {
        try send("GET", path, token: token)
    }

    func send(_ method: String, _ path: String, token: String? = nil, json: String? = nil) throws -> HTTPResponse {
        var headers: [HTTPHeader] = []
        if let token { headers.append(HTTPHeader("Authorization", "Bearer \(token)")) }
        if json != nil { headers.append(HTTPHeader("Content-Type", "application/json")) }
        let client = CurlHTTPClient(options: .init(connectTimeout: 2, totalTimeout: 30, proxy: ProxySettings()))
        return try client.sendBlocking(HTTPRequest(method: method, url: url + path, headers: headers, body: json ?? ""))
    }

    /// Submits a run through the API as the token's user and returns its ID.
    func submit(workflow: String, commands: [String], token: String) throws -> String {
        let body = JSONValue.object([
            "workflow": .string(workflow),
            "commands": .array(commands.map { .string($0) }),
            "requirements": .object(JSONObject()),
            "environment": .object(JSONObject()),
            "wait": .bool(true),
        ]).serialized()
        let reply = try send("POST", "/api/v1/runs", token: token, json: body)
        guard reply.status == 201, let id = try JSONValue.parse(reply.bodyText)["id"]?.stringValue else {
            throw HarnessError("submitting \(workflow) failed: \(reply.status) \(reply.bodyText)")
        }
        return id
    }

    func runStatus(_ id: String, token: String) throws -> String? {
        try JSONValue.parse(try get("/api/v1/runs/\(id)", token: token).bodyText)["status"]?.stringValue
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? log.close()
        BackgroundServer.stop(home: home)
        // A stopped server leaves its fleet running, as it should; a test's fleet goes with it.
        LocalInstanceProcesses.stopAll(home: home)
    }

    /// Removes the home (call after `stop`).
    func removeHome() {
        XCTAssertNil(TestStateDatabase.strayStateFile(home: home, url: databaseURL))
        try? FileManager.default.removeItem(at: home)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls until `condition` holds, or throws after `timeout` seconds: a bound on waiting,
/// not a speed check.
func waitUntil(_ what: String, timeout: TimeInterval = 60, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.2)
    }
    throw HarnessError("timed out after \(Int(timeout)) s waiting for \(what)")
}

/// Where a test's Python helper scripts live: next to this file in the source tree.
enum WebTestScripts {
    static func path(_ name: String, file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// The package's `.build` folder, where screenshots go so a person can look at them.
    static var buildDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build")
    }
}
