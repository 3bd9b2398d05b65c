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
}
