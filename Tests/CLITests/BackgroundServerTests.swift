import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The CLI starts the server of its DSTACK_HOME by itself, exactly once however many
/// CLIs ask at the same moment, and `dstack server stop` stops it.
final class BackgroundServerTests: CLITestCase {
    /// Live `dstack server` processes whose environment names this home.
    private func serverProcesses(for home: URL) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let isServer = arguments.first?.hasSuffix("/dstack-server") == true
                || (arguments.count >= 2 && arguments[0].hasSuffix("dstack") && arguments[1] == "server")
            return isServer && variables.contains("DSTACK_HOME=\(home.path)")
        }
    }

    func testTheSeedsTwoCommandsWorkOnAFreshMachineWithNoOtherStep() throws {
        XCTAssertNil(backgroundServerPID)
        XCTAssertTrue(try ok("local", "configure").contains("Saved the"))
        XCTAssertEqual(try ok("autoscale", "allow", "local", "--max", "1"), "Allowed up to 1 instance of local.\n")
        let pid = try XCTUnwrap(backgroundServerPID, "the CLI started a server for its home")
        XCTAssertTrue(FileManager.default.fileExists(atPath: home.appendingPathComponent("server.log").path))
        XCTAssertEqual(serverProcesses(for: home), [pid])
        XCTAssertTrue(try ok("autoscale", "info").contains("local"), "the next command uses the same server")
        XCTAssertEqual(serverProcesses(for: home), [pid])
    }

    func testTenCLIsStartedAtOnceAgainstNoServerLeaveExactlyOneServer() throws {
        let processes: [Process] = try (0..<10).map { _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack"))
            process.arguments = ["autoscale", "info", "--json"]
            process.environment = ProcessInfo.processInfo.environment.merging(["DSTACK_HOME": home.path]) { _, new in new }
                .filter { $0.key != "DSTACK_SERVER_URL" }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        processes.forEach { $0.waitUntilExit() }
        XCTAssertEqual(processes.map(\.terminationStatus), Array(repeating: 0, count: 10))
        let pid = try XCTUnwrap(backgroundServerPID)
        XCTAssertEqual(serverProcesses(for: home), [pid], "exactly one server for the home")
    }

    /// The CLI trusts a server.json whose process lives, without a health check of its own;
    /// a record that turns out stale (the process is no server, or it is on its way out)
    /// costs the command nothing but the wait: it starts the home's real server.
    func testAStaleServerRecordWithALiveProcessStillGetsTheCommandAServer() throws {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/bin/sleep")
        impostor.arguments = ["2"]
        try impostor.run()
        defer { impostor.terminate(); impostor.waitUntilExit() }
        let port = try LocalPort.free()
        try #"{"pid": \#(impostor.processIdentifier), "local_url": "http://127.0.0.1:\#(port)"}"#
            .write(to: home.appendingPathComponent("server.json"), atomically: true, encoding: .utf8)
        XCTAssertTrue(try ok("autoscale", "info").contains("No rules."))
        let pid = try XCTUnwrap(backgroundServerPID, "a real server was started and recorded")
        XCTAssertNotEqual(pid, impostor.processIdentifier)
        XCTAssertEqual(serverProcesses(for: home), [pid])
    }

    func testServerStopStopsTheBackgroundServerCleanly() throws {
        try ok("autoscale", "info")
        let pid = try XCTUnwrap(backgroundServerPID)
        let out = try ok("server", "stop")
        XCTAssertEqual(out, "Stopped the dstack server (pid \(pid)) of \(home.path).\n")
        XCTAssertNotEqual(kill(pid, 0), 0, "the process is gone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("server.json").path),
                       "a clean stop removes server.json")
        XCTAssertTrue((try String(contentsOf: home.appendingPathComponent("server.log"), encoding: .utf8)).contains("dstack server stopped"))
        XCTAssertEqual(try ok("server", "stop"), "No dstack server is running for \(home.path).\n")
    }

    func testTwoHomesOnOneMachineNeverTalkToEachOthersServer() throws {
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-cli-other-\(UUID().uuidString)")
        defer {
            _ = try? dstack(["server", "stop"], environment: ["DSTACK_HOME": other.path])
            try? FileManager.default.removeItem(at: other)
        }
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let otherHome = ["DSTACK_HOME": other.path]
        let info = try dstack(["autoscale", "info"], environment: otherHome)
        XCTAssertEqual(info.status, 0, "\(info)")
        XCTAssertTrue(info.stdout.contains("No rules"), "the other home has its own server and state: \(info.stdout)")
        let first = try JSONValue.parse(Array(try Data(contentsOf: home.appendingPathComponent("server.json"))))
        let second = try JSONValue.parse(Array(try Data(contentsOf: other.appendingPathComponent("server.json"))))
        XCTAssertNotEqual(first["local_url"], second["local_url"])
        XCTAssertNotEqual(first["pid"], second["pid"])
    }

    func testACLIWithAnotherHomeAndAUserTokenDrivesAServerStartedElsewhere() throws {
        let server = try startServer()
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let token = try XCTUnwrap(try ok("users", "add", "dana").split(separator: "\n").last.map(String.init))

        let laptop = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-laptop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: laptop) }
        let remote = ["DSTACK_HOME": laptop.path, "DSTACK_SERVER_URL": server.url, "DSTACK_TOKEN": token]
        let run = try dstack(["run", "--no-code", "--", "echo", "hello from the laptop"], environment: remote)
        XCTAssertEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.stdout.contains("hello from the laptop"), run.stdout)

        // `dstack login` saves the same for later commands (0600), and checks it first.
        let login = try dstack(["login", "--url", server.url, "--token", token], environment: ["DSTACK_HOME": laptop.path])
        XCTAssertEqual(login.status, 0, "\(login)")
        XCTAssertTrue(login.stdout.contains("as dana (user)"), login.stdout)
        let settings = laptop.appendingPathComponent("client.json").path
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: settings)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let ps = try dstack(["ps"], environment: ["DSTACK_HOME": laptop.path])
        XCTAssertTrue(ps.stdout.contains("dana"), "\(ps)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: laptop.appendingPathComponent("state.db").path),
                       "the CLI keeps no state of its own")
        let refused = try dstack(["login", "--url", server.url, "--token", "wrong"], environment: ["DSTACK_HOME": laptop.path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("(401)"), refused.stderr)
    }

    func testAnUnreachableServerIsOneSentenceNamingTheURL() throws {
        let port = try LocalPort.free()
        try fails(["ps"], saying: "the dstack server at http://127.0.0.1:\(port) did not answer",
                  environment: ["DSTACK_SERVER_URL": "http://127.0.0.1:\(port)"])
    }
}

/// The CLI is only a client: its binary links no SQLite (the state is the server's),
/// and `dstack server` is the dstack-server program next to it.
final class CLIBinaryTests: XCTestCase {
    func testTheCLILinksNoSQLiteAndTheServerDoes() throws {
        let cli = try runCommand("/usr/bin/ldd", [BuiltProducts.path("dstack")])
        XCTAssertEqual(cli.status, 0, cli.description)
        XCTAssertFalse(cli.stdout.contains("libsqlite3"), cli.stdout)
        let server = try runCommand("/usr/bin/ldd", [BuiltProducts.path("dstack-server")])
        XCTAssertTrue(server.stdout.contains("libsqlite3"), server.stdout)
    }
}

