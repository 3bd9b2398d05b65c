import DstackTesting
import DstackWire
import Foundation
import XCTest

/// The page's files and the routes it uses, over HTTP against a real server: the session
/// cookie and its rules against cross-site requests, the overview and the timeline.
final class SessionAndPageTests: XCTestCase {
    var server: WebServerHarness!

    override func tearDown() {
        server?.stop()
        server?.removeHome()
        super.tearDown()
    }

    func header(_ reply: HTTPResponse, _ name: String) -> String? {
        reply.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    func send(_ method: String, _ path: String, headers: [HTTPHeader], json: String? = nil) throws -> HTTPResponse {
        let client = CurlHTTPClient(options: .init(connectTimeout: 2, totalTimeout: 30, proxy: ProxySettings()))
        return try client.sendBlocking(HTTPRequest(method: method, url: server.url + path,
                                                   headers: headers + (json == nil ? [] : [HTTPHeader("Content-Type", "application/json")]),
                                                   body: json ?? ""))
    }

    func testThePageIsServedWithAStrictContentSecurityPolicy() throws {
        server = try WebServerHarness()
        let page = try server.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(header(page, "Content-Type"), "text/html; charset=utf-8")
        let policy = try XCTUnwrap(header(page, "Content-Security-Policy"))
        XCTAssertTrue(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), policy)
        XCTAssertFalse(policy.contains("unsafe"), policy)
        XCTAssertTrue(page.bodyText.contains(#"<script src="/app.js" defer></script>"#))
        XCTAssertFalse(page.bodyText.contains("<script>"), "no inline script")
        XCTAssertEqual(header(try server.get("/app.js"), "Content-Type"), "text/javascript; charset=utf-8")
        XCTAssertEqual(header(try server.get("/app.css"), "Content-Type"), "text/css; charset=utf-8")
        let script = try server.get("/app.js").bodyText
        XCTAssertFalse(script.contains("innerHTML") || script.contains("insertAdjacentHTML") || script.contains("document.write"),
                       "the script puts text into the page, never HTML")
    }

    func testSignInSetsAnHttpOnlyStrictCookieThatTheAPIAcceptsAndSignOutClearsIt() throws {
        server = try WebServerHarness()
        let wrong = try server.send("POST", "/api/v1/session", json: #"{"token": "not-a-token"}"#)
        XCTAssertEqual(wrong.status, 401)
        XCTAssertNil(header(wrong, "Set-Cookie"), "a wrong token gets no cookie")

        let signedIn = try server.send("POST", "/api/v1/session", json: "{\"token\": \"\(server.adminToken)\"}")
        XCTAssertEqual(signedIn.status, 200, signedIn.bodyText)
        let cookie = try XCTUnwrap(header(signedIn, "Set-Cookie"))
        XCTAssertTrue(cookie.hasPrefix("dstack_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict")
                      && cookie.contains("Path=/"), cookie)
        XCTAssertTrue(signedIn.bodyText.contains(#""name":"admin""#) || signedIn.bodyText.contains(#""name": "admin""#), signedIn.bodyText)
        XCTAssertFalse(signedIn.bodyText.contains(server.adminToken), "the reply does not repeat the token")

        let session = HTTPHeader("Cookie", String(cookie.split(separator: ";")[0]))
        XCTAssertEqual(try send("GET", "/api/v1/me", headers: [session]).status, 200, "a read with the cookie")
        let forged = try send("POST", "/api/v1/autoscale/disable", headers: [session])
        XCTAssertEqual(forged.status, 403, "a change with the cookie alone, as a cross-site form could send it")
        XCTAssertTrue(forged.bodyText.contains("X-Dstack-Request"), forged.bodyText)
        XCTAssertTrue(try JSONValue.parse(try server.get("/api/v1/autoscale", token: server.adminToken).bodyText)["enabled"]?.boolValue ?? false,
                      "the refused change changed nothing")
        let page = try send("POST", "/api/v1/runs/run-none/stop", headers: [session, HTTPHeader("X-Dstack-Request", "1")])
        XCTAssertEqual(page.status, 404, "with the page's header the cookie is accepted: \(page.bodyText)")

        let signedOut = try server.send("DELETE", "/api/v1/session")
        XCTAssertEqual(signedOut.status, 204)
        let cleared = try XCTUnwrap(header(signedOut, "Set-Cookie"))
        XCTAssertTrue(cleared.hasPrefix("dstack_session=;") && cleared.contains("Max-Age=0"), cleared)
    }

    func testTheOverviewAndTimelineShowTheFleetWithoutAskingTheCloud() throws {
        server = try WebServerHarness()
        try server.configureLocal(max: 1)
        let admin = server.adminToken
        let id = try server.submit(workflow: "timeline", commands: ["echo hi"], token: admin)
        try waitUntil("run \(id) to finish") { try server.runStatus(id, token: admin) == "done" }

        let overview = try JSONValue.parse(try server.get("/api/v1/overview", token: admin).bodyText)
        XCTAssertEqual(overview["provider"]?.stringValue, "local")
        let rule = try XCTUnwrap(overview["rules"]?.arrayValue?.first)
        XCTAssertEqual(rule["instance_type"]?.stringValue, "local")
        XCTAssertEqual(rule["max"]?.intValue, 1)
        XCTAssertEqual(rule["instances"]?.intValue, 1)
        XCTAssertEqual(overview["instances"]?.arrayValue?.first?["state"]?.stringValue, "running")
        // The local provider reports no prices: the cost model's numbers are unknown, not $0.
        XCTAssertEqual(rule["spend_today_dollars"], .null)
        XCTAssertEqual(rule["spend_last30_days_dollars"], .null)
        XCTAssertEqual(overview["instances"]?.arrayValue?.first?["cost_dollars"], .null)

        let events = try JSONValue.parse(try server.get("/api/v1/events", token: admin).bodyText)["events"]?.arrayValue ?? []
        let kinds = events.compactMap { $0["kind"]?.stringValue }
        XCTAssertTrue(kinds.contains("launch"), "\(events)")
        XCTAssertTrue(kinds.contains("fulfilment"), "\(events)")
        XCTAssertTrue(events.contains { $0["kind"]?.stringValue == "launch" && ($0["detail"]?.stringValue ?? "").contains(id) },
                      "the launch names the run it is for: \(events)")
        XCTAssertEqual(try server.get("/api/v1/events?limit=1001", token: admin).status, 400)
        XCTAssertEqual(try server.get("/api/v1/events").status, 401)
    }

    func testAUserSeesTheFleetButNotAnotherUsersRuns() throws {
        server = try WebServerHarness()
        try server.configureLocal(max: 2)
        let admin = server.adminToken
        let ann = try server.addUser("ann")
        // The admin's run keeps its instance busy, so ann's run gets a launch of its own.
        let admins = try server.submit(workflow: "admins", commands: ["sleep 60"], token: admin)
        try waitUntil("run \(admins) to start") { try server.runStatus(admins, token: admin) == "running" }
        let hers = try server.submit(workflow: "hers", commands: ["echo hers"], token: ann)
        try waitUntil("run \(hers) to finish") { try server.runStatus(hers, token: ann) == "done" }

        func instanceRuns(_ token: String) throws -> [String] {
            let overview = try JSONValue.parse(try server.get("/api/v1/overview", token: token).bodyText)
            return (overview["instances"]?.arrayValue ?? []).compactMap { $0["run_id"]?.stringValue }
        }
        XCTAssertEqual(try instanceRuns(admin), [admins])
        XCTAssertEqual(try instanceRuns(ann), [], "ann sees the instance but not the admin's run on it")

        func timeline(_ token: String) throws -> [JSONValue] {
            try JSONValue.parse(try server.get("/api/v1/events", token: token).bodyText)["events"]?.arrayValue ?? []
        }
        func mentions(_ events: [JSONValue], _ run: String) -> Bool {
            events.contains { ($0["detail"]?.stringValue ?? "").contains(run) || $0["subject"]?.stringValue == run }
        }
        let adminsView = try timeline(admin)
        XCTAssertTrue(mentions(adminsView, hers) && mentions(adminsView, admins), "an admin sees every run: \(adminsView)")
        let annsView = try timeline(ann)
        XCTAssertTrue(mentions(annsView, hers), "ann sees her own run's launch: \(annsView)")
        XCTAssertFalse(mentions(annsView, admins), "ann does not see the admin's run: \(annsView)")
        XCTAssertEqual(annsView.filter { $0["kind"]?.stringValue == "launch" }.count,
                       adminsView.filter { $0["kind"]?.stringValue == "launch" }.count,
                       "the launch for the admin's run is still on ann's timeline, without the run: \(annsView)")
        _ = try server.send("POST", "/api/v1/runs/\(admins)/stop", token: admin)
    }
}
