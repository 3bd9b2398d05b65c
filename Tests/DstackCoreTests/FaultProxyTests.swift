import DstackCore
import DstackTesting
import XCTest

/// `FaultProxy`, the test helper that loses replies on purpose: what it forwards, what
/// it drops, and that a dropped reply still reached the server.
final class FaultProxyTests: XCTestCase {
    private let client = CurlHTTPClient(options: .init(connectTimeout: 2, totalTimeout: 5, proxy: ProxySettings()))

    func testADroppedReplyReachedTheServerButTheClientGetsNoAnswer() throws {
        let upstream = try LocalHTTPServer { request in
            LocalHTTPServer.Response(status: 201, headers: [("X-Seen", request.bodyText)], body: "took \(request.bodyText)")
        }
        defer { upstream.stop() }
        let proxy = try FaultProxy(upstream: upstream.url, rule: FaultProxy.dropReplies(method: "POST", path: "/register"))
        defer { proxy.stop() }

        XCTAssertThrowsError(try client.sendBlocking(HTTPRequest(method: "POST", url: proxy.url + "/register", body: "first")))
        XCTAssertEqual(upstream.requests.map(\.bodyText), ["first"], "the server acted on the request whose reply was lost")

        let second = try client.sendBlocking(HTTPRequest(method: "POST", url: proxy.url + "/register?x=1", body: "second"))
        XCTAssertEqual(second.status, 201)
        XCTAssertEqual(second.bodyText, "took second")
        XCTAssertEqual(second.headers.first { $0.name.lowercased() == "x-seen" }?.value, "second")
        XCTAssertEqual(upstream.requests.map(\.path), ["/register", "/register?x=1"])
        XCTAssertEqual(proxy.faults.map(\.request), ["POST /register"])
    }

    func testADroppedRequestNeverReachesTheServer() throws {
        let upstream = try LocalHTTPServer { _ in LocalHTTPServer.Response(status: 204) }
        defer { upstream.stop() }
        let proxy = try FaultProxy(upstream: upstream.url) { request, _ in request.method == "GET" ? .dropRequest : .none }
        defer { proxy.stop() }

        XCTAssertThrowsError(try client.sendBlocking(HTTPRequest(method: "GET", url: proxy.url + "/a")))
        XCTAssertEqual(try client.sendBlocking(HTTPRequest(method: "POST", url: proxy.url + "/a", body: "")).status, 204)
        XCTAssertEqual(upstream.requests.map(\.method), ["POST"])
    }

    func testAReplyFaultAnswersWithTheServicesOwnErrorShapeAndForwardsNothing() throws {
        let upstream = try LocalHTTPServer { _ in LocalHTTPServer.Response(status: 200, body: "real") }
        defer { upstream.stop() }
        let proxy = try FaultProxy(upstream: upstream.url) { _, earlier in
            earlier == 0 ? .reply(status: 503, contentType: "text/xml", body: "<Response><Code>RequestLimitExceeded</Code></Response>") : .none
        }
        defer { proxy.stop() }

        let throttled = try client.sendBlocking(HTTPRequest(method: "POST", url: proxy.url + "/", body: "Action=X"))
        XCTAssertEqual(throttled.status, 503)
        XCTAssertEqual(throttled.bodyText, "<Response><Code>RequestLimitExceeded</Code></Response>")
        XCTAssertEqual(throttled.headers.first { $0.name.lowercased() == "content-type" }?.value, "text/xml")
        XCTAssertTrue(upstream.requests.isEmpty)
        XCTAssertEqual(try client.sendBlocking(HTTPRequest(method: "POST", url: proxy.url + "/", body: "Action=X")).bodyText, "real")
    }

    func testARandomRuleFaultsAboutTheFractionAskedForOnlyWhereItAppliesAndReplaysFromItsSeed() {
        let faults: [FaultProxy.Fault] = [.dropReply, .dropRequest, .status(500), .delay(1)]
        let request = LocalHTTPServer.Request(method: "POST", path: "/", headers: [], body: [])
        func draws(seed: UInt64) -> [FaultProxy.Fault] {
            let rule = FaultProxy.random(fraction: 0.3, of: faults, seed: seed)
            return (0..<2000).map { rule(request, $0) }
        }
        let first = draws(seed: 42)
        let faulted = first.filter { $0 != .none }
        XCTAssertEqual(Double(faulted.count) / 2000, 0.3, accuracy: 0.04)
        for fault in faults { XCTAssertTrue(faulted.contains(fault), "\(fault) is drawn too") }
        XCTAssertEqual(draws(seed: 42), first, "the same seed draws the same faults")
        XCTAssertNotEqual(draws(seed: 43), first)

        let eachFirst = FaultProxy.random(fraction: 0.3, of: faults, seed: 7, eachFirst: true)
        XCTAssertEqual(Array((0..<2000).map { eachFirst(request, $0) }.filter { $0 != .none }.prefix(4)), faults,
                       "each fault once, in order, before the random ones")

        let never = FaultProxy.random(fraction: 1, of: faults, seed: 1) { $0.method == "GET" }
        XCTAssertEqual(never(request, 0), .none, "a request the rule does not apply to is forwarded")
    }
}
