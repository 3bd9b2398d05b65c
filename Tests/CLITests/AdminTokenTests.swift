import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Servers sharing one Postgres database, each on a home of its own: the first writes the
/// admin's token in its home; a later one writes nothing (a new token would lock the
/// first one's CLIs out) and says how to get one; `dstack server admin-token --reset`
/// gives the admin a new token in the home it runs for, and never prints it.
final class AdminTokenTests: CLITestCase {
    private var secondHome: URL!

    override func setUp() {
        super.setUp()
        secondHome = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-cli-second-\(UUID().uuidString)")
        do {
            commandEnvironment["DSTACK_DATABASE_URL"] = try ThrowawayPostgres.shared().makeDatabase()
        } catch {
            XCTFail("cannot make a database: \(error)")
        }
    }

    override func tearDown() {
        BackgroundServer.stop(home: secondHome)
        super.tearDown()
        try? FileManager.default.removeItem(at: secondHome)
    }

    private func tokenFile(_ home: URL) -> URL { home.appendingPathComponent("admin.token") }

    private func token(_ home: URL) -> String? {
        (try? String(contentsOf: tokenFile(home), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `dstack ps` from `home`'s CLI against `server`.
    private func ps(from home: URL, at server: ServerProcess) throws -> CommandResult {
        try dstack(["ps", "--json"], environment: ["DSTACK_HOME": home.path, "DSTACK_SERVER_URL": server.url])
    }

    func testASecondServerOnItsOwnHomeWritesNoTokenAndAResetGivesItOne() throws {
        let first = try startServer()
        let firstToken = try XCTUnwrap(token(home))
        let second = try ServerProcess(home: secondHome, arguments: ["--reconcile-interval", "1s"], environment: stateEnvironment)
        servers.append(second)
        try second.waitUntilListening()
        try eventually("the second server to say how to get a token: \(second.output)", timeout: 10) {
            second.output.contains("admin.token does not open the admin user of this shared database")
        }
        XCTAssertTrue(second.output.contains("dstack server admin-token --reset"), second.output)
        XCTAssertNil(token(secondHome), "the second home gets no token by itself")
        XCTAssertFalse(second.output.contains("dstk_"), "no token in its log")
        XCTAssertEqual(try ps(from: home, at: first).status, 0, "the first home's token still opens the admin account")
        XCTAssertNotEqual(try ps(from: secondHome, at: second).status, 0, "the second home has no token yet")

        // Asked, the second home's check says the same, in one sentence (exit 1).
        let check = try dstack(["server", "admin-token"], environment: ["DSTACK_HOME": secondHome.path])
        XCTAssertEqual(check.status, 1, check.description)
        XCTAssertEqual(check.stderr.split(separator: "\n").count, 1, check.description)
        XCTAssertTrue(check.stderr.contains("does not open the admin user"), check.description)

        let reset = try dstack(["server", "admin-token", "--reset"], environment: ["DSTACK_HOME": secondHome.path])
        XCTAssertEqual(reset.status, 0, reset.description)
        let secondToken = try XCTUnwrap(token(secondHome))
        XCTAssertNotEqual(secondToken, firstToken)
        XCTAssertFalse(reset.stdout.contains(secondToken) || reset.stderr.contains(secondToken), "the token is never printed")
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile(secondHome).path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(try ps(from: secondHome, at: second).status, 0, "the second home's CLI now opens the admin account")
        XCTAssertEqual(try ps(from: secondHome, at: first).status, 0, "at either server: they share the users")
        XCTAssertEqual(try dstack(["server", "admin-token"], environment: ["DSTACK_HOME": secondHome.path]).status, 0)

        // The reset replaced the admin's token: the first home's old one opens nothing now
        // (a server believes a token it checked for at most a second: TokenCache.lifetime).
        try eventually("the old token to stop working, as the reset says", timeout: 10) {
            try ps(from: home, at: first).status != 0
        }
        XCTAssertTrue(reset.stdout.contains("previous token no longer opens anything"), reset.stdout)
    }

    func testTwoServersOnTheirOwnHomesStartingTogetherLeaveOneWorkingToken() throws {
        // Neither waits for the other: whichever makes the admin writes its token.
        let first = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s"], environment: stateEnvironment)
        let second = try ServerProcess(home: secondHome, arguments: ["--reconcile-interval", "1s"], environment: stateEnvironment)
        servers += [first, second]
        try first.waitUntilListening()
        try second.waitUntilListening()
        let written = [(home!, first), (secondHome!, second)].filter { token($0.0) != nil }
        XCTAssertEqual(written.count, 1, "exactly one home holds the admin's token")
        for (writtenHome, _) in written {
            XCTAssertEqual(try ps(from: writtenHome, at: first).status, 0)
            XCTAssertEqual(try ps(from: writtenHome, at: second).status, 0)
        }
    }

    func testTwoServersOnOneHomeStartingTogetherLeaveItsTokenWorking() throws {
        let first = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s"], environment: stateEnvironment)
        let second = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s"], environment: stateEnvironment)
        servers += [first, second]
        try first.waitUntilListening()
        try second.waitUntilListening()
        XCTAssertNotNil(token(home))
        XCTAssertEqual(try ps(from: home, at: first).status, 0, "the home's one token opens the admin account")
        XCTAssertEqual(try ps(from: home, at: second).status, 0)
    }
}
