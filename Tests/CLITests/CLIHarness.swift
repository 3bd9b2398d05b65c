import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Runs the built `dstack` in a temporary `$DSTACK_HOME`, as a user would.
class CLITestCase: XCTestCase {
    var home: URL!
    /// Laid over every command's environment (e.g. DSTACK_SERVER_URL once a server runs).
    var commandEnvironment: [String: String] = [:]
    /// Servers the test started; killed in tearDown.
    var servers: [ServerProcess] = []
    /// Where commands run: an empty project directory unless a test fills it (or points
    /// it elsewhere), so `dstack run` ships exactly what the test put there.
    var workingDirectory: URL!

    override func setUp() {
        super.setUp()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-cli-\(UUID().uuidString)")
        workingDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-cwd-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
        // DSTACK_TEST_STATE=postgres (make test's second run of the end-to-end tests):
        // the state of every server these commands start is a new database in the
        // throwaway PostgreSQL instead of the home's state.db.
        if ProcessInfo.processInfo.environment["DSTACK_TEST_STATE"] == "postgres" {
            do {
                commandEnvironment["DSTACK_DATABASE_URL"] = try ThrowawayPostgres.shared().makeDatabase()
            } catch {
                XCTFail("cannot make a Postgres database for the test: \(error)")
            }
        }
    }

    override func tearDown() {
        // Whatever a test left running on the local provider goes too, through a server
        // that still runs (the test's own, or the one the CLI started in the background).
        if FileManager.default.fileExists(atPath: home.appendingPathComponent("config.json").path), serverIsRunning {
            _ = try? dstack("autoscale", "clear")
        }
        servers.forEach { $0.stop(signal: SIGKILL) }
        servers = []
        stopBackgroundServer()
        // What no server was left to terminate (a test killed its server on purpose).
        LocalInstanceProcesses.stopAll(home: home)
        try? FileManager.default.removeItem(at: home)
        try? FileManager.default.removeItem(at: workingDirectory)
        super.tearDown()
    }

    @discardableResult
    func dstack(_ arguments: String..., stdin: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
        try dstack(arguments, stdin: stdin, environment: environment)
    }

    func dstack(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
        var env = ["DSTACK_HOME": home.path]
        env.merge(commandEnvironment) { _, new in new }
        env.merge(environment) { _, new in new }
        return try runCommand(BuiltProducts.path("dstack"), arguments, environment: env, stdin: stdin ?? "", directory: workingDirectory)
    }

    /// Asserts success and returns stdout.
    @discardableResult
    func ok(_ arguments: String..., stdin: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try dstack(arguments, stdin: stdin)
        XCTAssertEqual(result.status, 0, "dstack \(arguments.joined(separator: " ")) failed: \(result)", file: file, line: line)
        return result.stdout
    }

    /// Asserts the command fails with exactly one line on stderr that contains `fragment`.
    func fails(_ arguments: [String], saying fragment: String, stdin: String? = nil, environment: [String: String] = [:],
               file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try dstack(arguments, stdin: stdin, environment: environment)
        XCTAssertNotEqual(result.status, 0, "expected failure: \(result)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "expected one line on stderr: \(result)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("dstack: "), "stderr should start with 'dstack: ': \(result)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(fragment), "stderr should say '\(fragment)': \(result)", file: file, line: line)
    }

    /// The pid in server.json, while that process lives.
    var backgroundServerPID: Int32? { BackgroundServer.pid(home: home) }

    var serverIsRunning: Bool { backgroundServerPID != nil || servers.contains { $0.process.isRunning } }

    /// Stops the server the CLI started for this home, if any.
    func stopBackgroundServer() {
        BackgroundServer.stop(home: home)
    }

    var configFile: URL { home.appendingPathComponent("config.json") }
    var stateFile: URL { home.appendingPathComponent("state.db") }

    /// The state this test's servers keep: the home's state.db, or the Postgres database
    /// of DSTACK_TEST_STATE=postgres. For what no API shows (a log line's time, a
    /// cooldown) or a fault to inject; everything else is read through the CLI.
    func openState() throws -> StateStore {
        let database = try commandEnvironment["DSTACK_DATABASE_URL"].map { try DatabaseURL(parsing: $0) }
        return try StateStore(home: DstackHome(url: home), databaseURL: database)
    }

    /// The server's own bookkeeping (where it listens, its log, its locks), which any
    /// command may start; not what a failed command must leave alone.
    static let serverFiles: Set<String> = ["server.json", "server.log", "server.lock", "server-start.lock", "admin.token"]

    /// A snapshot of every file under the home (but the server's own bookkeeping), to
    /// prove a failed command changed nothing.
    func snapshot() -> [String: Data] {
        var files: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: home.path) else { return files }
        for case let path as String in enumerator {
            let full = home.appendingPathComponent(path).path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
               !path.hasSuffix("-wal"), !path.hasSuffix("-shm"), !Self.serverFiles.contains(path), !path.hasPrefix("tls/") {
                files[path] = FileManager.default.contents(atPath: full)
            }
        }
        return files
    }
}

