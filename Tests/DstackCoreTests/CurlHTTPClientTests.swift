import DstackCore
import DstackTesting
import XCTest

final class CurlHTTPClientTests: XCTestCase {
    private func client(_ options: CurlHTTPClient.Options = .init(proxy: ProxySettings())) -> CurlHTTPClient {
        CurlHTTPClient(options: options)
    }

    func testSendsMethodHeadersAndBodyAndReadsTheReply() async throws {
        let server = try LocalHTTPServer { request in
            LocalHTTPServer.Response(status: 201, headers: [("X-Echo", request.header("X-Test") ?? "")],
                                     body: "\(request.method) \(request.path) \(request.bodyText)")
        }
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(method: "POST", url: server.url + "/path?q=1",
                                                           headers: [HTTPHeader("X-Test", "yes")], body: "a=b"))
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.header("x-echo"), "yes")
        XCTAssertEqual(response.bodyText, "POST /path?q=1 a=b")
    }

    func testReusesOneConnectionPerHost() async throws {
        let server = try LocalHTTPServer { _ in LocalHTTPServer.Response(body: "ok") }
        defer { server.stop() }
        let http = client()
        var reused: [Bool] = []
        for _ in 0..<5 {
            reused.append(try await http.send(HTTPRequest(url: server.url + "/")).reusedConnection)
        }
        XCTAssertEqual(server.connectionsAccepted, 1, "five sequential requests should share one kept-alive connection")
        XCTAssertEqual(reused, [false, true, true, true, true])
    }

    func testTotalTimeoutEndsASlowRequest() async throws {
        let server = try LocalHTTPServer { _ in LocalHTTPServer.Response(body: "late", delay: 3) }
        defer { server.stop() }
        let http = client(.init(connectTimeout: 1, totalTimeout: 0.5, proxy: ProxySettings()))
        do {
            _ = try await http.send(HTTPRequest(url: server.url + "/"))
            XCTFail("a 3 s reply should not beat a 0.5 s timeout")
        } catch let error as HTTPError {
            guard case .timedOut = error else { return XCTFail("expected timedOut, got \(error)") }
        }
    }

    func testRefusedConnectionIsATypedError() async throws {
        // Bind a server to learn a free port, then stop it so nothing listens there.
        let server = try LocalHTTPServer { _ in LocalHTTPServer.Response() }
        let url = server.url
        server.stop()
        do {
            _ = try await client().send(HTTPRequest(url: url + "/"))
            XCTFail("nothing listens there")
        } catch let error as HTTPError {
            guard case .couldNotConnect = error else { return XCTFail("expected couldNotConnect, got \(error)") }
        }
    }

    func testADroppedConnectionIsATypedError() async throws {
        let server = try LocalHTTPServer { _ in LocalHTTPServer.Response(dropConnection: true) }
        defer { server.stop() }
        do {
            _ = try await client().send(HTTPRequest(url: server.url + "/"))
            XCTFail("the server closed without answering")
        } catch is HTTPError {}
    }

    func testRejectsURLsThatAreNotHTTP() async {
        do {
            _ = try await client().send(HTTPRequest(url: "file:///etc/passwd"))
            XCTFail("file URLs must not be fetched")
        } catch let error as HTTPError {
            XCTAssertEqual(error, .invalidURL("file:///etc/passwd"))
        } catch {
            XCTFail("wrong error \(error)")
        }
    }

    func testGoesThroughTheProxyFromTheEnvironment() async throws {
        // The "proxy" is a local server: a request through it carries the absolute URL.
        let proxy = try LocalHTTPServer { request in LocalHTTPServer.Response(body: "via proxy: \(request.path)") }
        defer { proxy.stop() }
        let settings = ProxySettings.fromEnvironment(["HTTP_PROXY": proxy.url])
        let response = try await client(.init(proxy: settings)).send(HTTPRequest(url: "http://example.invalid/x"))
        XCTAssertEqual(response.bodyText, "via proxy: http://example.invalid/x")
    }

    func testNoProxyBypassesTheProxy() async throws {
        let proxy = try LocalHTTPServer { _ in LocalHTTPServer.Response(body: "proxy") }
        let direct = try LocalHTTPServer { _ in LocalHTTPServer.Response(body: "direct") }
        defer { proxy.stop(); direct.stop() }
        let settings = ProxySettings.fromEnvironment(["http_proxy": proxy.url, "no_proxy": "127.0.0.1"])
        let response = try await client(.init(proxy: settings)).send(HTTPRequest(url: direct.url + "/"))
        XCTAssertEqual(response.bodyText, "direct")
    }

    func testProxyVariablesPreferLowerCaseAndFallBackToAllProxy() {
        let settings = ProxySettings.fromEnvironment([
            "http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:1", "ALL_PROXY": "http://all:1",
        ])
        XCTAssertEqual(settings.proxy(for: "http://x/"), "http://lower:1")
        XCTAssertEqual(settings.proxy(for: "https://x/"), "http://all:1")
        XCTAssertNil(ProxySettings.fromEnvironment([:]).proxy(for: "https://x/"))
    }

    func testTLSVerificationIsOnByDefault() {
        XCTAssertTrue(CurlHTTPClient.Options().verifyTLS)
    }
}
