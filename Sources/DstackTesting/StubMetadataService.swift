import Foundation

/// A stand-in for EC2's instance metadata service (IMDSv2) on `LocalHTTPServer`, for
/// tests of the spot lifecycle. It serves every instance under `/INSTANCE_ID/latest/...`
/// (the local provider gives each runner `URL/ID` as its metadata base) and also the
/// bare `/latest/...` as instance `""`. `spot/instance-action` and the rebalance
/// recommendation answer 404 until a test announces them. A GET without the session
/// token from `PUT /latest/api/token` is refused with 401, as IMDSv2 does.
public final class StubMetadataService: @unchecked Sendable {
    public static let sessionToken = "stub-imds-session-token"

    private let lock = NSLock() // guards `interruptions`, `rebalances` and `_noticeReads`
    private var interruptions: [String: (action: String, time: String)] = [:]
    private var rebalances: [String: String] = [:]
    private var _noticeReads: [String: Int] = [:]
    private var server: LocalHTTPServer!

    public init() throws {
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    public var url: String { server.url }
    /// The metadata base URL of one instance (what the local provider gives its runner).
    public func baseURL(instance: String) -> String { "\(url)/\(instance)" }
    public func stop() { server.stop() }

    /// From now on `spot/instance-action` of `instance` answers `{"action": ..., "time": ...}`.
    public func announceInterruption(instance: String, action: String = "terminate", at time: Date) {
        let formatter = ISO8601DateFormatter()
        lock.withLock { interruptions[instance] = (action, formatter.string(from: time)) }
    }

    /// From now on `events/recommendations/rebalance` of `instance` answers `{"noticeTime": ...}`.
    public func announceRebalance(instance: String, at time: Date = Date()) {
        let formatter = ISO8601DateFormatter()
        lock.withLock { rebalances[instance] = formatter.string(from: time) }
    }

    /// How many times `instance` read `spot/instance-action`.
    public func noticeReads(instance: String) -> Int { lock.withLock { _noticeReads[instance] ?? 0 } }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let path = request.path.split(separator: "?").first.map(String.init) ?? request.path
        guard let range = path.range(of: "/latest/") else { return LocalHTTPServer.Response(status: 404) }
        let instance = String(path[..<range.lowerBound].drop { $0 == "/" })
        let rest = "/latest/" + path[range.upperBound...]
        if request.method == "PUT", rest == "/latest/api/token" {
            return LocalHTTPServer.Response(status: 200, body: Self.sessionToken)
        }
        guard request.header("X-aws-ec2-metadata-token") == Self.sessionToken else { return LocalHTTPServer.Response(status: 401) }
        switch rest {
        case "/latest/meta-data/instance-id":
            return LocalHTTPServer.Response(status: 200, body: instance)
        case "/latest/meta-data/spot/instance-action":
            let notice: (action: String, time: String)? = lock.withLock {
                _noticeReads[instance, default: 0] += 1
                return interruptions[instance]
            }
            guard let notice else { return LocalHTTPServer.Response(status: 404) }
            return LocalHTTPServer.Response(status: 200, headers: [("Content-Type", "text/plain")],
                                            body: "{\"action\": \"\(notice.action)\", \"time\": \"\(notice.time)\"}")
        case "/latest/meta-data/events/recommendations/rebalance":
            guard let time = lock.withLock({ rebalances[instance] }) else { return LocalHTTPServer.Response(status: 404) }
            return LocalHTTPServer.Response(status: 200, headers: [("Content-Type", "text/plain")], body: "{\"noticeTime\": \"\(time)\"}")
        default:
            return LocalHTTPServer.Response(status: 404)
        }
    }
}
