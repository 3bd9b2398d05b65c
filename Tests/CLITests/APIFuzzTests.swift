import DstackAPI
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Schemathesis (from PyPI; `make test` installs it) fuzzes the running server against the
/// OpenAPI document it serves, once with a user's token and once with the admin's. The
/// server answers no request with a 5xx, every answer matches the document (status, content
/// type, headers, schema), malformed input is refused, and no malformed body changes the
/// state.
final class APIFuzzTests: CLITestCase {
    /// Examples per operation and phase: enough to reach every parameter and body field,
    /// few enough that each run takes well under a minute on two cores.
    private static let examples = "25"
    private static let seed = "20261129"

    /// Checks that need more than the document says, per operation (schemathesis.toml).
    /// - POST /runs: a valid body that names a code archive the server lacks gets 428
    ///   (upload it, then submit again), which is how the CLI learns to upload.
    /// - PUT /code/{sha256}: bytes that do not hash to the path's SHA-256 are refused with a
    ///   400 though any bytes fit the schema; only the right bytes are accepted.
    /// - PUT /autoscale/rules/{instance_type}: a type the account does not offer is a 400
    ///   (validated against the provider's offerings, which the document cannot list).
    private static let configuration = """
        [[operations]]
        include-name = "PUT /api/v1/autoscale/rules/{instance_type}"
        checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "409"]

        [[operations]]
        include-name = "POST /api/v1/runs"
        checks.positive_data_acceptance.expected-statuses = ["2XX", "401", "403", "404", "409", "428"]

        [[operations]]
        include-name = "PUT /api/v1/code/{sha256}"
        checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403"]
        """

    /// A local provider with a rule and two finished runs, so the routes have rules, runs,
    /// logs and users to work on. Autoscaling is then disabled (the rule stays): runs the
    /// fuzzer submits with a valid body are stored but never start, so no fuzzed command
    /// line runs on this machine, and the state holds still while it is compared.
    private func prepare() throws -> ServerProcess {
        let server = try startServer()
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        try ok("run", "--detach", "--wait", "--no-code", "--", "true")
        try ok("run", "--detach", "--wait", "--no-code", "--", "echo", "fuzz")
        try eventually("both runs to finish", timeout: 60) {
            (try? self.runs())?.allSatisfy { $0["status"]?.stringValue == "done" } == true
        }
        try ok("autoscale", "disable")
        return server
    }

    /// Everything a fuzzer's request could change: rules, users, vendor settings (masked),
    /// runs and the saved configuration.
    private func state(_ server: ServerProcess) throws -> [String: String] {
        [
            "autoscale": try ok("autoscale", "info", "--json"),
            "users": try ok("users", "list", "--json"),
            "runs": try ok("ps", "--all", "--json"),
            "vendors": try adminGet(server, APIPaths.vendors),
            "config.json": (try? String(contentsOf: configFile, encoding: .utf8)) ?? "",
        ]
    }

    private func assertUnchanged(_ after: [String: String], _ before: [String: String], _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        for key in before.keys.sorted() {
            XCTAssertEqual(after[key], before[key], "\(what) changed \(key)", file: file, line: line)
        }
    }

    private func adminGet(_ server: ServerProcess, _ path: String) throws -> String {
        let reply = try CurlHTTPClient().sendBlocking(HTTPRequest(method: "GET", url: server.url + path,
                                                                  headers: [HTTPHeader("Authorization", "Bearer \(adminToken)")], body: ""))
        XCTAssertEqual(reply.status, 200, reply.bodyText)
        return reply.bodyText
    }

    private var adminToken: String {
        (try? String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Runs `schemathesis run` against the served document and asserts it found nothing.
    private func fuzz(_ server: ServerProcess, token: String, _ options: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let configuration = home.appendingPathComponent("schemathesis.toml")
        try Self.configuration.write(to: configuration, atomically: true, encoding: .utf8)
        let arguments = ["schemathesis", "--no-color", "--config-file", configuration.path,
                         "run", server.url + APIPaths.openAPI,
                         "--header", "Authorization: Bearer \(token)",
                         "--max-examples", Self.examples, "--seed", Self.seed, "--workers", "1",
                         // A logs call may wait up to 30 s for a line, by design; nothing takes longer.
                         "--request-timeout", "40", "--max-response-time", "35", "--output-truncate", "false",
                         "--report-dir", home.appendingPathComponent("schemathesis-report").path,
                         // The web page's stream of changes stays open ~25 s by design (WebTests covers it).
                         "--exclude-path", APIPaths.changes] + options
        let result = try runCommand("/usr/bin/env", arguments, timeout: 300, directory: workingDirectory)
        if result.status == 127 || result.stderr.contains("No such file or directory") && result.stdout.isEmpty {
            XCTFail("schemathesis is not installed; install it with `pip install schemathesis` (make test does)", file: file, line: line)
            return
        }
        XCTAssertEqual(result.status, 0, "schemathesis found failures:\n\(result.stdout)\n\(result.stderr)", file: file, line: line)
    }

    /// Found while fuzzing: with one instance live, a manual request for Int.max more
    /// overflowed the max check and killed the server. It is refused in one sentence.
    func testAHugeInstanceCountIsRefusedAndTheServerLives() throws {
        _ = try startServer()
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        try ok("instances", "request", "local")
        try fails(["instances", "request", "local", "--count", String(Int.max)], saying: "local is at its max of 1")
        XCTAssertTrue(try ok("autoscale", "info", "--json").contains(#""max": 1"#), "the server still answers")
    }

    /// Admin routes as a user are 403s; the user's own routes (runs, logs, code, instances)
    /// are fuzzed with valid and invalid data. A user may submit and stop their own runs,
    /// but nothing else may change: rules, users, vendors, other users' runs.
    func testAsAUserTheServerMeetsItsDocumentAndChangesOnlyTheUsersOwnRuns() throws {
        let server = try prepare()
        let bob = try XCTUnwrap(try ok("users", "add", "bob").split(separator: "\n").last.map(String.init))
        var before = try state(server)

        try fuzz(server, token: bob, ["--checks", "all"])

        var after = try state(server)
        let runsBefore = try JSONValue.parse(before.removeValue(forKey: "runs")!).arrayValue ?? []
        let runsAfter = try JSONValue.parse(after.removeValue(forKey: "runs")!).arrayValue ?? []
        assertUnchanged(after, before, "a user's fuzzing")
        XCTAssertEqual(runsAfter.filter { $0["user"]?.stringValue != "bob" }, runsBefore,
                       "a user changed another user's runs")
        for run in runsAfter where run["user"]?.stringValue == "bob" {
            XCTAssertTrue(["submitted", "pending", "stopped"].contains(run["status"]?.stringValue ?? ""),
                          "a fuzzed run started though autoscaling is disabled: \(run)")
        }
    }

    /// As the admin, first every operation gets malformed input only (negative mode): each
    /// is refused with a 4xx and nothing changes. Left out of that run, because they take
    /// no body and any call is a valid one that changes the state by design: clearing the
    /// rules, disabling and enabling autoscaling, stopping a run (the stateful phase finds
    /// real run IDs), and removing a user (the fuzzer's name could be "admin" or "bob").
    /// Then the reads get valid input (positive mode, every check), and so do adding users
    /// and allowing types, whose results must be what a valid body may do: a user with a
    /// valid name and role, a rule for a type the account offers. Vendors and manual
    /// launches stay out of the positive run: a valid body would replace the provider's
    /// settings or start instances.
    func testAsTheAdminMalformedInputChangesNothingAndValidInputOnlyWhatItMay() throws {
        let server = try prepare()
        _ = try ok("users", "add", "bob")
        let before = try state(server)

        try fuzz(server, token: adminToken, [
            "--mode", "negative", "--checks", "all",
            "--exclude-name", "DELETE /api/v1/autoscale/rules",
            "--exclude-name", "POST /api/v1/autoscale/disable",
            "--exclude-name", "POST /api/v1/autoscale/enable",
            "--exclude-name", "POST /api/v1/runs/{run}/stop",
            "--exclude-name", "DELETE /api/v1/users/{name}",
        ])
        assertUnchanged(try state(server), before, "malformed input")

        try fuzz(server, token: adminToken, [
            "--mode", "positive", "--checks", "all",
            "--include-name-regex", #"^(GET .*|POST /api/v1/users|PUT /api/v1/autoscale/rules/\{instance_type\})$"#,
        ])
        let users = try JSONValue.parse(try ok("users", "list", "--json")).arrayValue ?? []
        XCTAssertTrue(users.contains { $0["name"]?.stringValue == "admin" && $0["role"]?.stringValue == "admin" })
        XCTAssertTrue(users.contains { $0["name"]?.stringValue == "bob" && $0["role"]?.stringValue == "user" })
        for user in users {
            XCTAssertTrue(UserDirectory.isValidName(user["name"]?.stringValue ?? ""), "a user with a bad name: \(user)")
            XCTAssertTrue(["admin", "user"].contains(user["role"]?.stringValue ?? ""), "a user with a bad role: \(user)")
        }
        let info = try JSONValue.parse(try ok("autoscale", "info", "--json"))
        XCTAssertEqual(info["enabled"]?.boolValue, false, "the positive run touched no toggle")
        for rule in info["rules"]?.arrayValue ?? [] {
            XCTAssertEqual(rule["instance_type"]?.stringValue, "local", "a rule for a type the account does not offer: \(rule)")
        }
        XCTAssertEqual(try ok("ps", "--all", "--json"), before["runs"], "the positive run submitted or stopped no run")
    }
}
