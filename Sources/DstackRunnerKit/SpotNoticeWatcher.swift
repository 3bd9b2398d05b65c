import DstackWire
import Foundation

extension InstanceMetadata {
    /// What the metadata service announces about this spot instance right now.
    public struct SpotNotices: Sendable, Equatable {
        /// `spot/instance-action`: `{"action": "terminate", "time": "2026-11-29T12:04:31Z"}`.
        public var interruption: RunnerAPI.SpotNotice?
        /// `events/recommendations/rebalance`: `{"noticeTime": "..."}`.
        public var rebalance: RunnerAPI.SpotNotice?
    }

    /// Reads both notices with one IMDSv2 session token. 404 means "no notice"; any other
    /// failure throws, and the watcher tries again at its next tick.
    public func spotNotices() throws -> SpotNotices {
        let token = try sessionToken()
        var notices = SpotNotices()
        if let body = try optionalDocument("/latest/meta-data/spot/instance-action", token: token) {
            let json = try? JSONValue.parse(body)
            notices.interruption = RunnerAPI.SpotNotice(kind: .interruption, action: json?["action"]?.stringValue ?? "terminate",
                                                        time: json?["time"]?.stringValue)
        }
        if let body = try optionalDocument("/latest/meta-data/events/recommendations/rebalance", token: token) {
            let json = try? JSONValue.parse(body)
            notices.rebalance = RunnerAPI.SpotNotice(kind: .rebalance, time: json?["noticeTime"]?.stringValue)
        }
        return notices
    }

    /// The document at `path`, or nil on 404.
    private func optionalDocument(_ path: String, token: String) throws -> String? {
        let reply = try http.sendBlocking(HTTPRequest(method: "GET", url: baseURL + path,
                                                      headers: [HTTPHeader("X-aws-ec2-metadata-token", token)]))
        if reply.status == 404 { return nil }
        guard reply.status == 200 else { throw MetadataError("the metadata service answered \(reply.status) to \(path)") }
        return reply.bodyText
    }
}

/// Polls the instance's metadata service for spot notices (every 5 s by default: EC2
/// gives two minutes' warning, and our IAM list has no event queue to hear it sooner)
/// and reports each new one to the server at once, retried until the server has it.
final class SpotNoticeWatcher: Sendable {
    private let metadata: InstanceMetadata
    private let client: RunnerAPIClient
    private let interval: TimeInterval
    private let lifetime: Lifetime
    private let log: RunnerLog

    init(metadata: InstanceMetadata, client: RunnerAPIClient, interval: TimeInterval, lifetime: Lifetime, log: RunnerLog) {
        self.metadata = metadata
        self.client = client
        self.interval = interval
        self.lifetime = lifetime
        self.log = log
    }

    func run() {
        var reported = Set<RunnerAPI.SpotNotice.Kind>()
        var failing = false
        repeat {
            let notices: InstanceMetadata.SpotNotices
            do {
                notices = try metadata.spotNotices()
                if failing { log("the metadata service answers again") }
                failing = false
            } catch {
                if !failing { log("cannot read spot notices from the metadata service, retrying: \(error)") }
                failing = true
                continue
            }
            for notice in [notices.interruption, notices.rebalance].compactMap({ $0 }) where !reported.contains(notice.kind) {
                log("spot \(notice.kind.rawValue) notice: \(notice.action ?? "")\(notice.time.map { " at \($0)" } ?? ""); telling the server")
                if client.reportNotice(notice) { reported.insert(notice.kind) }
            }
        } while lifetime.sleep(interval)
    }
}
