import DstackWire
import Foundation

/// An HTTP proxy for tests that sits between a client and a real server (set as the
/// client's base URL) and injects faults the network could cause: a reply lost after the
/// server acted on the request, a request that never arrives, a slow link. Everything
/// else is forwarded as is. Plain HTTP, one thread a connection (`LocalHTTPServer`).
// @unchecked: `seen` is guarded by `lock`; the rest is immutable.
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable, Equatable {
        /// Forward the request and its reply.
        case none
        /// Forward the request (the server acts on it), then close the client's
        /// connection instead of replying: the client cannot know whether it happened.
        case dropReply
        /// Close the client's connection without forwarding anything.
        case dropRequest
        /// Forward, and hold the reply back this long.
        case delay(TimeInterval)
        /// Forward nothing and answer with this status (a 503 from a struggling server).
        case status(Int)
        /// Forward nothing and answer with this status and body: a service's own error
        /// shape, such as a cloud API's throttling reply.
        case reply(status: Int, contentType: String, body: String)
    }

    /// Decides the fault for a request; `earlier` is how many requests with the same
    /// method and path (without the query) came before it.
    public typealias Rule = @Sendable (_ request: LocalHTTPServer.Request, _ earlier: Int) -> Fault

    public let upstream: String
    public var url: String { server.url }

    private var server: LocalHTTPServer!
    private let rule: Rule
    private let client: CurlHTTPClient
    private let lock = NSLock()
    private var seen: [String: Int] = [:]
    private var _faults: [(request: String, fault: Fault)] = []
    private var inFlight = 0
    private var _mostInFlight = 0

    /// `upstream`: the real server's base URL, e.g. `http://127.0.0.1:3000`.
    public init(upstream: String, rule: @escaping Rule) throws {
        self.upstream = upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream
        self.rule = rule
        // Long polls wait up to a minute upstream before answering.
        client = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 120, proxy: ProxySettings()))
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    /// Drops the reply to the first `count` requests of `method` on `path`.
    public static func dropReplies(method: String, path: String, first count: Int = 1) -> Rule {
        { request, earlier in
            request.method == method && Self.pathWithoutQuery(request.path) == path && earlier < count ? .dropReply : .none
        }
    }

    /// Faults `fraction` of the requests `applies` picks, each fault drawn from `faults`,
    /// both by a generator seeded with `seed`: a chaos run that fails can be replayed
    /// with the same draws (the order requests arrive in still varies). With
    /// `eachFirst`, the first faults are each of `faults` once, in order, so a short
    /// run still sees every kind.
    public static func random(fraction: Double, of faults: [Fault], seed: UInt64, eachFirst: Bool = false,
                              applies: @escaping @Sendable (LocalHTTPServer.Request) -> Bool = { _ in true }) -> Rule {
        let generator = SeededGenerator(seed: seed)
        return { request, _ in
            guard !faults.isEmpty, applies(request) else { return .none }
            let (draw, pick, injected) = generator.next2(fraction: fraction)
            guard draw < fraction else { return .none }
            if eachFirst, injected < faults.count { return faults[injected] }
            return faults[Int(pick * Double(faults.count)) % faults.count]
        }
    }

    /// The faults injected so far, as "METHOD /path" and the fault.
    public var faults: [(request: String, fault: Fault)] { lock.withLock { _faults } }

    /// The most requests the proxy was handling at once (from a request's whole body
    /// arriving to its reply going out): whether a client sends in parallel.
    public var mostInFlight: Int { lock.withLock { _mostInFlight } }

    /// Every request the proxy received, in order.
    public var requests: [LocalHTTPServer.Request] { server.requests }

    public func stop() { server.stop() }

    deinit { server?.stop() }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let key = "\(request.method) \(Self.pathWithoutQuery(request.path))"
        let fault: Fault = lock.withLock {
            let fault = rule(request, seen[key, default: 0])
            seen[key, default: 0] += 1
            if fault != .none { _faults.append((key, fault)) }
            inFlight += 1
            _mostInFlight = max(_mostInFlight, inFlight)
            return fault
        }
        defer { lock.withLock { inFlight -= 1 } }
        if fault == .dropRequest { return LocalHTTPServer.Response(dropConnection: true) }
        if case .status(let status) = fault {
            return LocalHTTPServer.Response(status: status, headers: [("Content-Type", "application/json")],
                                            body: #"{"error":"injected by the fault proxy"}"#)
        }
        if case .reply(let status, let contentType, let body) = fault {
            return LocalHTTPServer.Response(status: status, headers: [("Content-Type", contentType)], body: body)
        }
        let forwarded = HTTPRequest(
            method: request.method, url: upstream + request.path,
            headers: request.headers.filter { !Self.hopByHop.contains($0.name.lowercased()) }.map { HTTPHeader($0.name, $0.value) },
            body: request.body)
        let reply: HTTPResponse
        do {
            reply = try client.sendBlocking(forwarded)
        } catch {
            return LocalHTTPServer.Response(status: 502, body: "the fault proxy could not reach \(upstream): \(error)")
        }
        if fault == .dropReply { return LocalHTTPServer.Response(dropConnection: true) }
        var response = LocalHTTPServer.Response(
            status: reply.status,
            headers: reply.headers.filter { !Self.hopByHop.contains($0.name.lowercased()) }.map { ($0.name, $0.value) })
        response.body = reply.body
        // Held here rather than by the server, so that a held reply counts as in flight.
        if case .delay(let seconds) = fault { Thread.sleep(forTimeInterval: seconds) }
        return response
    }

    /// Headers about one hop's connection and framing: each side sets its own.
    private static let hopByHop: Set<String> = ["host", "connection", "keep-alive", "content-length", "transfer-encoding", "expect",
                                                "proxy-connection", "te", "trailer", "upgrade"]

    private static func pathWithoutQuery(_ path: String) -> String {
        path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
    }
}


/// SplitMix64, for `FaultProxy.random`: small, seedable, good enough to pick faults.
// @unchecked: `state` and `faulted` are guarded by `lock`.
final class SeededGenerator: @unchecked Sendable {
    private let lock = NSLock()
    private var state: UInt64
    private var faulted = 0

    init(seed: UInt64) { state = seed }

    /// Two numbers in [0, 1), drawn together, and how many draws before this one fell
    /// under `fraction` (counted when the first number does).
    func next2(fraction: Double) -> (Double, Double, Int) {
        lock.withLock {
            let (draw, pick) = (unit(), unit())
            let before = faulted
            if draw < fraction { faulted += 1 }
            return (draw, pick, before)
        }
    }

    private func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}
