import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Several `dstack server`s on one Postgres state, on the local provider (one home, so
/// both see the same local "cloud"): one leads the reconcile loop; a CLI at each; a
/// leader killed with SIGKILL is replaced, and no run or instance is lost or doubled.
final class ReplicaTests: CLITestCase {
    private var database = ""

    override func setUp() {
        super.setUp()
        do {
            database = try ThrowawayPostgres.shared().makeDatabase()
        } catch {
            XCTFail("cannot make a database: \(error)")
        }
        commandEnvironment["DSTACK_DATABASE_URL"] = database
    }

    private func replica(port: Int? = nil) throws -> ServerProcess {
        let server = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s", "--idle-timeout", "4s"], port: port,
                                       environment: ["DSTACK_DATABASE_URL": database])
        servers.append(server)
        try server.waitUntilListening()
        return server
    }

    private func health(_ server: ServerProcess) -> JSONValue? {
        let client = CurlHTTPClient(options: .init(connectTimeout: 0.5, totalTimeout: 2, proxy: ProxySettings()))
        guard let response = try? client.sendBlocking(HTTPRequest(url: server.url + "/api/v1/health")), response.status == 200 else {
            return nil
        }
        return try? JSONValue.parse(String(decoding: response.body, as: UTF8.self))
    }

    private func leader(among replicas: [ServerProcess]) throws -> ServerProcess {
        var found: ServerProcess?
        try eventually("one replica to lead", timeout: 20) {
            let leaders = replicas.filter { $0.process.isRunning && health($0)?["leader"]?.boolValue == true }
            found = leaders.count == 1 ? leaders[0] : nil
            return found != nil
        }
        return try XCTUnwrap(found)
    }

    private func submit(_ command: String, at server: ServerProcess) throws -> String {
        let result = try dstack(["run", "--detach", "--", "sh", "-c", command], environment: ["DSTACK_SERVER_URL": server.url])
        XCTAssertEqual(result.status, 0, result.description)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func status(_ id: String, at server: ServerProcess) throws -> String? {
        let result = try dstack(["ps", "--all", "--json"], environment: ["DSTACK_SERVER_URL": server.url])
        guard result.status == 0 else { return nil }
        return (try JSONValue.parse(result.stdout).arrayValue ?? []).first { $0["id"]?.stringValue == id }?["status"]?.stringValue
    }

    func testRunsSubmittedAtEitherReplicaFinishAndOnlyOneLeads() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        stopBackgroundServer()
        let a = try replica(), b = try replica()
        let leader = try self.leader(among: [a, b])
        let follower = leader === a ? b : a
        XCTAssertEqual(health(follower)?["leader"]?.boolValue, false)
        XCTAssertEqual(health(follower)?["database"]?.stringValue, "ok")
        let ids = try [submit("echo at a", at: a), submit("echo at b", at: b), submit("echo at b again", at: b)]
        try eventually("every run to finish") { try ids.allSatisfy { try status($0, at: a) == "done" } }
        XCTAssertEqual(try ids.map { try status($0, at: b) }, ["done", "done", "done"], "both replicas read one state")
    }

    /// Kills the leader at four points of a launch: inside the provider's launch (the
    /// moment the instance's directory appears, mostly before its record is written),
    /// just after the submission, while the launch is out (provisioning), and once the
    /// run runs. The other takes over within 15 s; the killed one comes back as a
    /// follower (as a service manager restarts it); every run finishes and the local
    /// cloud ends with no instance state does not know: none listed, no directory, no
    /// process. On a timeout it prints what is left and why (`leakReport`).
    func testKillingTheLeaderMidLaunchLosesNothing() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        stopBackgroundServer()
        var replicas = [try replica(), try replica()]
        var ids: [String] = []
        // "launching" first: with no instance yet, the run needs a launch.
        for killPoint in ["launching", "submitted", "provisioning", "running"] {
            let leader = try self.leader(among: replicas)
            let follower = replicas.first { $0 !== leader }!
            let id = try submit("sleep 1; echo \(killPoint)", at: follower)
            ids.append(id)
            if killPoint == "launching" {
                try eventually("the leader to start launching (an instance directory to appear)", timeout: 60, interval: 0.001) {
                    !leftInstanceDirectories().isEmpty
                }
            } else if killPoint != "submitted" {
                try eventually("the run to reach \(killPoint)", timeout: 60, interval: 0.05) {
                    let now = try status(id, at: follower)
                    return now == killPoint || now == "running" || now == "done"
                }
            }
            let port = leader.port
            leader.stop(signal: SIGKILL)
            let killedAt = Date()
            let next = try self.leader(among: [follower])
            XCTAssertTrue(next === follower)
            XCTAssertLessThan(Date().timeIntervalSince(killedAt), 15, "takeover within 15 s (kill at \(killPoint))")
            replicas = [follower, try replica(port: port)]
        }
        let any = replicas[0]
        do {
            try eventually("every run to finish", timeout: 120) { try ids.allSatisfy { try status($0, at: any) == "done" } }
        } catch is EventuallyTimeout {
            print(leakReport(listed: nil, left: leftInstanceDirectories(), ids: ids))
            throw EventuallyTimeout()
        }
        // Nothing leaked or doubled: once idle instances are torn down, the local cloud
        // holds no instance (its list is empty, and so is the directory its instances
        // live in: a directory `list` cannot read is a leak no sweep would ever see).
        // The idle timeout is 4 s and a termination waits for its runner to exit, so
        // under load this takes a while; the bound is generous, the condition exact.
        var listed: [JSONValue]?
        var left: [String] = []
        var running: [String] = []
        do {
            try eventually("the idle instances to go, from the list, \(instancesDirectory) and the process table", timeout: 90,
                           interval: 0.5) {
                let result = try dstack(["instances", "--json"], environment: ["DSTACK_SERVER_URL": any.url])
                listed = result.status == 0 ? try JSONValue.parse(result.stdout).arrayValue : nil
                left = leftInstanceDirectories()
                running = instanceProcesses()
                return listed?.isEmpty == true && left.isEmpty && running.isEmpty
            }
        } catch is EventuallyTimeout {
            print(leakReport(listed: listed, left: left, ids: ids))
        }
        XCTAssertEqual(left, [], "no local instance is left behind")
        XCTAssertEqual(running, [], "no local instance's process is left running")
        for id in ids {
            let logs = try dstack(["logs", id], environment: ["DSTACK_SERVER_URL": any.url]).stdout
            XCTAssertFalse(logs.contains("attempt 2"), "a run ran once: \(logs)")
        }
    }

    private var instancesDirectory: String { home.appendingPathComponent("local/instances").path }

    private func leftInstanceDirectories() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: instancesDirectory)) ?? []).sorted()
    }

    /// Everything that explains a leak, printed when one is found: what the cloud lists,
    /// each leftover directory's files, record and runner log, whether its process lives,
    /// the launch journal, the instances and terminations state holds, and each server's
    /// last lines (the killed ones' too).
    private func leakReport(listed: [JSONValue]?, left: [String], ids: [String]) -> String {
        var lines = ["=== leak report: runs \(ids.joined(separator: ", "))",
                     "instances --json: \(listed.map { JSONValue.array($0).serialized() } ?? "(failed)")"]
        for name in left {
            let directory = instancesDirectory + "/" + name
            let files = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).sorted()
            lines.append("--- \(name): files \(files)")
            for file in ["instance.json", "runner.json"] {
                lines.append("\(file): \((try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? "(none)")")
            }
            let log = (try? String(contentsOfFile: directory + "/runner.log", encoding: .utf8)) ?? "(none)"
            lines.append("runner.log (last 30 lines):\n" + log.split(separator: "\n").suffix(30).joined(separator: "\n"))
            lines.append("processes started for it: \(processes(withEnvironment: "DSTACK_INSTANCE_ID=\(name)"))")
        }
        for pid in instanceProcesses() {
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?
                .replacingOccurrences(of: "\u{0}", with: " ") ?? "?"
            let instance = environment(of: pid).first { $0.hasPrefix("DSTACK_INSTANCE_ID=") } ?? "?"
            lines.append("instance process \(pid) (\(instance)): \(command)")
        }
        let database = URL(string: self.database)?.lastPathComponent ?? ""
        for (what, sql) in [("launch journal", "SELECT token, status, count, spot_requests, error, created_at FROM launches ORDER BY created_at"),
                            ("instances in state", "SELECT id, launch_token, recorded_at FROM instances ORDER BY recorded_at"),
                            ("pending terminations", "SELECT resource_id, kind, at FROM pending_terminations ORDER BY at")] {
            let rows = (try? ThrowawayPostgres.shared().psql(sql, database: database)) ?? "(query failed)"
            lines.append("--- \(what):\n\(rows)")
        }
        for (index, server) in servers.enumerated() {
            let state = server.process.isRunning ? "running" : "exited \(server.process.terminationStatus)"
            lines.append("--- server \(index) on port \(server.port) (\(state)), last 60 lines:")
            lines.append(server.output.split(separator: "\n").suffix(60).joined(separator: "\n"))
        }
        return lines.joined(separator: "\n")
    }

    /// Pids of this user's living processes whose environment holds `entry` (a local
    /// instance's processes carry DSTACK_INSTANCE_ID, and DSTACK_HOME as the server's).
    private func processes(withEnvironment entry: String) -> [String] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }
        return pids.filter { pid in environment(of: pid).contains(entry) }.sorted()
    }

    /// Processes started for any instance of this test's home: instance processes carry
    /// DSTACK_INSTANCE_ID, the servers do not.
    private func instanceProcesses() -> [String] {
        processes(withEnvironment: "DSTACK_HOME=\(home.path)").filter { pid in
            environment(of: pid).contains { $0.hasPrefix("DSTACK_INSTANCE_ID=") }
        }
    }

    /// /proc/PID/environ's entries; none for a zombie, a process gone, or another user's.
    private func environment(of pid: String) -> [String] {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/environ"),
              let data = try? handle.readToEnd() else { return [] }
        try? handle.close()
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
