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

    /// Kills the leader at three points of a launch: just after the submission, while the
    /// launch is out (provisioning), and once the run runs. The other takes over within
    /// 15 s; the killed one comes back as a follower (as a service manager restarts it);
    /// every run finishes and the local cloud ends with no instance state does not know.
    func testKillingTheLeaderMidLaunchLosesNothing() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        stopBackgroundServer()
        var replicas = [try replica(), try replica()]
        var ids: [String] = []
        for killPoint in ["submitted", "provisioning", "running"] {
            let leader = try self.leader(among: replicas)
            let follower = replicas.first { $0 !== leader }!
            let id = try submit("sleep 1; echo \(killPoint)", at: follower)
            ids.append(id)
            if killPoint != "submitted" {
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
        try eventually("every run to finish", timeout: 120) { try ids.allSatisfy { try status($0, at: any) == "done" } }
        // Nothing leaked or doubled: once idle instances are torn down, the local cloud
        // holds no runner, and no run ran twice.
        try eventually("the idle instances to go", timeout: 60) {
            let result = try dstack(["instances", "--json"], environment: ["DSTACK_SERVER_URL": any.url])
            guard result.status == 0 else { return false }
            return (try JSONValue.parse(result.stdout).arrayValue ?? []).isEmpty
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("local/instances").path)) ?? []
        XCTAssertEqual(left, [], "no local instance is left behind")
        for id in ids {
            let logs = try dstack(["logs", id], environment: ["DSTACK_SERVER_URL": any.url]).stdout
            XCTAssertFalse(logs.contains("attempt 2"), "a run ran once: \(logs)")
        }
    }
}
