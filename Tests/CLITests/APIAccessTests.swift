import DstackAPI
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Who may call what. Every `/api/v1` route but health and the document needs a user's
/// token (401 otherwise); admin routes refuse a user (403); a user reaches only their own
/// runs (403); runner tokens and user tokens never open each other's routes.
final class APIAccessTests: CLITestCase {
    /// One route of each group, with a body it would accept.
    private let routes: [(method: String, path: String, body: String, adminOnly: Bool)] = [
        ("GET", APIPaths.me, "", false),
        ("GET", APIPaths.users, "", true),
        ("POST", APIPaths.users, #"{"name":"x","role":"user"}"#, true),
        ("DELETE", APIPaths.user("x"), "", true),
        ("GET", APIPaths.vendors, "", true),
        ("GET", APIPaths.vendor("local"), "", true),
        ("PUT", APIPaths.vendor("local"), #"{"settings":{},"verify":false}"#, true),
        ("GET", APIPaths.autoscale, "", false),
        ("PUT", APIPaths.rule("local"), #"{"max":1}"#, true),
        ("DELETE", APIPaths.rules, "", true),
        ("POST", APIPaths.disable, "", true),
        ("POST", APIPaths.enable, "", true),
        ("GET", APIPaths.runs, "", false),
        ("POST", APIPaths.runs, #"{"commands":["true"],"requirements":{},"environment":{},"wait":true}"#, false),
        ("GET", APIPaths.run("run-00000000"), "", false),
        ("GET", APIPaths.runLogs("run-00000000"), "", false),
        ("POST", APIPaths.stopRun("run-00000000"), "", false),
        ("PUT", APIPaths.codeArchive(String(repeating: "0", count: 64)), "", false),
        ("GET", APIPaths.instances, "", false),
        ("POST", APIPaths.instanceRequests, #"{"instance_type":"local","count":1}"#, true),
        ("POST", APIPaths.terminateInstances, #"{"ids":["i-1"]}"#, true),
    ]

    private func call(_ server: ServerProcess, _ method: String, _ path: String, body: String = "", token: String?) throws -> HTTPResponse {
        var headers = [HTTPHeader("Content-Type", "application/json")]
        if let token { headers.append(HTTPHeader("Authorization", "Bearer \(token)")) }
        return try CurlHTTPClient().sendBlocking(HTTPRequest(method: method, url: server.url + path, headers: headers, body: body))
    }

    private var adminToken: String {
        (try? String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// `dstack users add NAME` and the token it printed.
    private func addUser(_ name: String, role: String = "user") throws -> String {
        let out = try ok("users", "add", name, "--role", role)
        return try XCTUnwrap(out.split(separator: "\n").last.map(String.init))
    }

    func testEveryRouteGroupRefusesAMissingOrWrongToken() throws {
        let server = try startServer()
        for route in routes {
            let missing = try call(server, route.method, route.path, body: route.body, token: nil)
            XCTAssertEqual(missing.status, 401, "\(route.method) \(route.path) without a token: \(missing.bodyText)")
            XCTAssertTrue(missing.bodyText.contains("bearer token is required"), missing.bodyText)
            let wrong = try call(server, route.method, route.path, body: route.body, token: "dstk_" + String(repeating: "f", count: 64))
            XCTAssertEqual(wrong.status, 401, "\(route.method) \(route.path) with a wrong token: \(wrong.bodyText)")
        }
        XCTAssertEqual(try call(server, "GET", APIPaths.health, token: nil).status, 200, "health needs no token")
        XCTAssertEqual(try call(server, "GET", APIPaths.openAPI, token: nil).status, 200, "the document needs no token")
    }

    func testAUserIsRefusedEveryAdminRouteAndChangesNothing() throws {
        let server = try startServer()
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let bob = try addUser("bob")
        let before = try ok("autoscale", "info", "--json")
        for route in routes where route.adminOnly {
            let reply = try call(server, route.method, route.path, body: route.body, token: bob)
            XCTAssertEqual(reply.status, 403, "\(route.method) \(route.path) as a user: \(reply.bodyText)")
            XCTAssertTrue(reply.bodyText.contains("needs an admin token"), reply.bodyText)
        }
        XCTAssertEqual(try ok("autoscale", "info", "--json"), before)
        XCTAssertEqual(try ok("users", "list").contains("bob"), true)
        // The CLI says which in one sentence.
        try fails(["autoscale", "allow", "local", "--max", "2"], saying: "needs an admin token",
                  environment: ["DSTACK_TOKEN": bob])
        try fails(["users", "list"], saying: "(403)", environment: ["DSTACK_TOKEN": bob])
        try fails(["ps"], saying: "did not accept the token (401)", environment: ["DSTACK_TOKEN": "nope"])
    }

    func testAUserSeesStopsAndReadsOnlyTheirOwnRuns() throws {
        try startServer()
        let alice = try addUser("alice")
        let bob = try addUser("bob")
        let asAlice = ["DSTACK_TOKEN": alice]
        let asBob = ["DSTACK_TOKEN": bob]
        let aliceRun = try dstack(["run", "--detach", "--wait", "--no-code", "--", "echo", "alice"], environment: asAlice)
        XCTAssertEqual(aliceRun.status, 0, "\(aliceRun)")
        let bobRun = try dstack(["run", "--detach", "--wait", "--no-code", "--", "echo", "bob"], environment: asBob)
        XCTAssertEqual(bobRun.status, 0, "\(bobRun)")
        let aliceID = aliceRun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let bobID = bobRun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let seenByBob = try dstack(["ps", "--all"], environment: asBob).stdout
        XCTAssertTrue(seenByBob.contains(bobID))
        XCTAssertFalse(seenByBob.contains(aliceID), "bob must not see alice's run: \(seenByBob)")
        try fails(["logs", aliceID], saying: "belongs to another user", environment: asBob)
        try fails(["stop", aliceID], saying: "belongs to another user", environment: asBob)

        // The admin sees both, with who submitted each.
        let all = try runs()
        XCTAssertEqual(Set(all.compactMap { $0["id"]?.stringValue }), [aliceID, bobID])
        XCTAssertEqual(all.first { $0["id"]?.stringValue == aliceID }?["user"]?.stringValue, "alice")
        XCTAssertTrue(try ok("ps", "--all").contains("alice"))
        XCTAssertEqual(try dstack(["stop", aliceID]).status, 0, "an admin may stop anyone's run")
    }

    func testRunnerTokensAndUserTokensOpenOnlyTheirOwnRoutes() throws {
        let server = try startServer()
        // A registered runner's token, as state keeps it (only the hash).
        let runnerToken = "runner-" + SecureRandom.hex(16)
        let state = try openState()
        try state.write { tx in
            try tx.journalBatch(token: "batch-1", vendor: "local", instanceType: "local", count: 1, registrationHash: "x")
            try tx.registerInstance(id: "i-runner", vendor: "local", instanceType: "local", spotRequestID: nil,
                                    batchToken: "batch-1", tokenHash: TokenHash.sha256Hex(runnerToken))
        }
        for route in routes {
            XCTAssertEqual(try call(server, route.method, route.path, body: route.body, token: runnerToken).status, 401,
                           "a runner token must not open \(route.method) \(route.path)")
        }
        let runnerRoute = try call(server, "POST", "/api/runners/i-runner/heartbeat", body: #"{"run_id":null}"#, token: adminToken)
        XCTAssertEqual(runnerRoute.status, 401, "the admin token must not open a runner route: \(runnerRoute.bodyText)")
    }

    func testUsersAreAddedListedAndRemovedAndARemovedTokenStopsWorking() throws {
        try startServer()
        let carol = try addUser("carol", role: "admin")
        XCTAssertEqual(carol.count, 69, "dstk_ and 64 hex digits: 256 bits")
        let list = try ok("users", "list", "--json")
        let users = try JSONValue.parse(list).arrayValue ?? []
        XCTAssertEqual(users.compactMap { $0["name"]?.stringValue }, ["admin", "carol"])
        XCTAssertFalse(list.contains(carol), "a token is shown once, never listed")
        XCTAssertEqual(try dstack(["users", "list"], environment: ["DSTACK_TOKEN": carol]).status, 0)
        try ok("users", "remove", "carol")
        try fails(["users", "list"], saying: "(401)", environment: ["DSTACK_TOKEN": carol])
        try fails(["users", "add", "carol", "--role", "root"], saying: "--role must be admin or user")
        try fails(["users", "remove", "admin"], saying: "is the last admin")
        try fails(["users", "add", "../x"], saying: "a user name is 1 to 64 letters")
    }

    func testTheAdminTokenFileIsPrivateAndStateKeepsOnlyItsHash() throws {
        try startServer()
        let attributes = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("admin.token").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let token = adminToken
        XCTAssertFalse(token.isEmpty)
        if let url = commandEnvironment["DSTACK_DATABASE_URL"] {
            // Every user row, as Postgres's own client prints it.
            let users = try ThrowawayPostgres.shared().psql("SELECT * FROM users", database: try DatabaseURL(parsing: url).database)
            XCTAssertTrue(users.contains("admin") && !users.contains(token), "the database must not hold the plain token")
        } else {
            let database = try Data(contentsOf: stateFile) + ((try? Data(contentsOf: URL(fileURLWithPath: stateFile.path + "-wal"))) ?? Data())
            XCTAssertNil(database.range(of: Data(token.utf8)), "state.db must not hold the plain token")
        }
    }
}

/// A cloud secret sent to configure never comes back: not in any reply, not in the
/// server's log, not in an error.
final class SecretsStayHiddenTests: CLITestCase {
    func testAConfiguredSecretIsOnlyEverShownMasked() throws {
        let server = try startServer()
        let secret = "s3cr3t-" + SecureRandom.hex(12)
        try ok("aws", "configure", "--no-verify", "--access-key-id", "AKIDHIDDEN", "--secret-access-key", secret, "--region", "us-east-1")
        let token = (try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var replies: [String] = []
        for path in [APIPaths.vendors, APIPaths.vendor("aws"), APIPaths.autoscale, APIPaths.instances] {
            let reply = try CurlHTTPClient().sendBlocking(HTTPRequest(url: server.url + path,
                                                                      headers: [HTTPHeader("Authorization", "Bearer \(token)")]))
            replies.append(reply.bodyText)
        }
        let masked = String(repeating: "*", count: 16) + String(secret.suffix(4))
        XCTAssertTrue(replies[1].contains(masked), replies[1])
        // Reconfiguring shows the mask as the prompt's default and keeps the secret.
        let again = try ok("aws", "configure", "--no-verify", stdin: "\n\n\n\n")
        XCTAssertTrue(again.contains("[\(masked)]"), again)
        let failing = try dstack("autoscale", "allow", "m5.large", "--max", "1") // the cloud cannot be reached
        for text in replies + [again, failing.stdout, failing.stderr, server.output] {
            XCTAssertFalse(text.contains(secret), "the secret leaked: \(text)")
        }
        XCTAssertTrue(try String(contentsOf: configFile, encoding: .utf8).contains(secret), "the server keeps it")
    }
}
