import DstackTesting
import DstackWire
import Foundation

/// A proxy in front of moto that gives `RequestSpotInstances` EC2's idempotency: EC2
/// answers a request whose `ClientToken` it has seen with the spot requests that token
/// created, and launches nothing more; moto ignores the token and launches again. Under
/// a fault proxy that loses replies, the client's retry would otherwise double a launch
/// in the emulator that no real EC2 would double. Everything else goes through as is.
// @unchecked: `replies` and `_replayed` are guarded by `lock`; the rest is immutable.
final class EC2ClientTokenProxy: @unchecked Sendable {
    let upstream: String
    private let lock = NSLock()
    private var replies: [String: HTTPResponse] = [:]
    private var _replayed = 0
    private let client = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 60, proxy: ProxySettings()))
    private var server: LocalHTTPServer!

    init(upstream: String) throws {
        self.upstream = upstream
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    var url: String { server.url }
    /// How many requests got the reply an earlier one with their token had.
    var replayed: Int { lock.withLock { _replayed } }
    func stop() { server.stop() }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let form = request.bodyText
        let token = form.contains("Action=RequestSpotInstances") ? HoldingEC2Proxy.formValue(form, "ClientToken") : nil
        if let token, let earlier = lock.withLock({ replies[token] }) {
            lock.withLock { _replayed += 1 }
            return Self.response(earlier)
        }
        let forwarded = HTTPRequest(method: request.method, url: upstream + request.path,
                                    headers: request.headers.filter { !["host", "content-length", "connection"].contains($0.name.lowercased()) }
                                        .map { HTTPHeader($0.name, $0.value) },
                                    body: request.body)
        guard let reply = try? client.sendBlocking(forwarded) else { return LocalHTTPServer.Response(status: 502) }
        if let token, reply.status == 200 { lock.withLock { replies[token] = reply } }
        return Self.response(reply)
    }

    private static func response(_ reply: HTTPResponse) -> LocalHTTPServer.Response {
        var response = LocalHTTPServer.Response(status: reply.status, headers: [("Content-Type", "text/xml")])
        response.body = reply.body
        return response
    }
}
