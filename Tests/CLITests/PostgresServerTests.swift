import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack server --database-url`: the state in PostgreSQL (a throwaway one,
/// `ThrowawayPostgres`), end to end through the CLI on the local provider.
final class PostgresServerTests: CLITestCase {
    func testABadDatabaseURLIsOneSentenceAndExitOne() throws {
        for (url, saying) in [("mysql://u:s3cret@127.0.0.1/d", "scheme 'mysql' is not postgresql"),
                              ("postgresql://u:s3cret@127.0.0.1", "has no database name")] {
            let result = try dstack(["server", "--database-url", url])
            XCTAssertEqual(result.status, 1, result.description)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.description)
            XCTAssertTrue(result.stderr.hasPrefix("dstack: ") && result.stderr.contains(saying), result.description)
            XCTAssertFalse(result.stderr.contains("s3cret") || result.stdout.contains("s3cret"), result.description)
        }
    }

    func testAWrongPasswordOrAnUnreachableDatabaseIsOneSentenceAndExitOne() throws {
        let postgres = try ThrowawayPostgres.shared()
        var wrong = try DatabaseURL(parsing: try postgres.makeDatabase())
        wrong.password = "not-the-s3cret"
        let unreachable = DatabaseURL(user: "dstack", password: "s3cret", host: "127.0.0.1", port: try LocalPort.free(), database: "d")
        for (url, saying) in [(wrong, "refused the user name or password"), (unreachable, "cannot reach the database")] {
            // The environment variable, as a service manager would set it.
            let result = try dstack(["server"], environment: ["DSTACK_DATABASE_URL": url.secretURLString])
            XCTAssertEqual(result.status, 1, result.description)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.description)
            XCTAssertTrue(result.stderr.hasPrefix("dstack: ") && result.stderr.contains(saying), result.description)
            XCTAssertFalse(result.stderr.contains("s3cret"), result.description)
        }
    }

    func testRunsFinishWithTheStateInPostgres() throws {
        let postgres = try ThrowawayPostgres.shared()
        let database = try postgres.makeDatabase()
        commandEnvironment["DSTACK_DATABASE_URL"] = database
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "2")
        let server = try startServer("--idle-timeout", "3s")
        let ids = try (1...3).map { try submit("--", "sh", "-c", "echo run $0 says hi", "\($0)", server: server) }
        try eventually("every run to finish") { try ids.allSatisfy { try status($0) == "done" } }
        for (index, id) in ids.enumerated() {
            XCTAssertTrue(try ok("logs", id).contains("run \(index + 1) says hi"))
        }
        // The runs are in Postgres (read with psql), and no state.db was made.
        let name = try DatabaseURL(parsing: database).database
        XCTAssertEqual(try postgres.psql("SELECT count(*) FROM runs WHERE status = 'done'", database: name), "3")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateFile.path))
    }

    func testPostgresStoppedAndStartedUnderARunningServerLosesNoRun() throws {
        let postgres = try ThrowawayPostgres() // its own: this test stops it
        defer { postgres.stop() }
        commandEnvironment["DSTACK_DATABASE_URL"] = try postgres.makeDatabase()
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let http = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 30, proxy: ProxySettings()))
        func get(_ path: String) throws -> HTTPResponse {
            try http.sendBlocking(HTTPRequest(url: server.url + path, headers: [HTTPHeader("Authorization", "Bearer \(token)")]))
        }
        // Acknowledged before the outage: it must finish whatever happens next. (The pool
        // now holds connections, all of which the stop cuts.)
        let first = try submit("--", "sh", "-c", "sleep 2; echo first", server: server)
        XCTAssertEqual(try get("/api/v1/runs").status, 200)

        postgres.pause()
        XCTAssertEqual(try get("/api/v1/runs").status, 503, "the API answers 503 while the database is down")
        let health = try JSONValue.parse(String(decoding: try get("/api/v1/health").body, as: UTF8.self))
        XCTAssertEqual(health["database"]?.stringValue, "unreachable", "\(health)")
        let down = try dstack(["ps", "--json"])
        XCTAssertNotEqual(down.status, 0, "the CLI says so: \(down)")
        XCTAssertTrue(down.stderr.contains("unreachable"), down.description)
        let refused = try dstack(["run", "--detach", "--", "echo", "never acknowledged"], environment: ["DSTACK_SERVER_URL": server.url])
        XCTAssertNotEqual(refused.status, 0, "a submission is refused, not half taken: \(refused)")
        Thread.sleep(forTimeInterval: 2) // reconcile passes and a runner's polls fail meanwhile
        XCTAssertTrue(server.process.isRunning, "the server must not crash: \(server.output)")
        try postgres.restart()

        // Every pooled connection died with the old server: none is handed out again, so
        // the API serves at the pool's next try (a bound on waiting, not a speed check).
        try eventually("the server to answer again", timeout: 20) { try get("/api/v1/runs").status == 200 }
        XCTAssertEqual(try get("/api/v1/runs").status, 200, "and keeps answering: no stale connection is left")
        let second = try submit("--", "sh", "-c", "echo second", server: server)
        try eventually("both runs to finish") { try status(first) == "done" && status(second) == "done" }
        XCTAssertEqual(Set(try runs().compactMap { $0["id"]?.stringValue }), [first, second], "the refused one was never taken")
        XCTAssertTrue(try ok("logs", first).contains("first"))
        XCTAssertTrue(server.process.isRunning, server.output)
        XCTAssertFalse(server.output.contains(postgres.password), "the password never reaches the log")
        // Its instance goes while its database is still here (tearDown comes after the defer).
        try ok("autoscale", "clear")
        try eventually("the instance to be torn down") { try liveInstances().isEmpty }
    }
}
