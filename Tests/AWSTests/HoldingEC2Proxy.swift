import DstackTesting
import DstackWire
import Foundation

/// A proxy in front of moto that makes EC2 hold spot requests: moto fulfils every
/// request at once, so for requests placed in `heldZone` (the zone of the first request,
/// unless set) it rewrites `DescribeSpotInstanceRequests` answers to show them `open`
/// with a holding status and no instance. Everything else goes through unchanged, so
/// moto still launches the instance (as EC2 may fulfil a request while it is cancelled).
// @unchecked: `heldZone`, `held`, `zones`, `requestTimes` and `firstHeld` are guarded by `lock`; the rest is immutable.
final class HoldingEC2Proxy: @unchecked Sendable {
    let upstream: String
    let status: String
    private let lock = NSLock()
    private var heldZone: String?
    private var held: Set<String> = []
    private var zones: [String] = []
    private var requestTimes: [Date] = []
    private var firstHeld: Date?
    private let client = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 60, proxy: ProxySettings()))
    private var server: LocalHTTPServer!

    init(upstream: String, status: String = "capacity-not-available") throws {
        self.upstream = upstream
        self.status = status
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    var url: String { server.url }
    var zone: String? { lock.withLock { heldZone } }
    /// The spot requests shown as held so far.
    var heldRequests: Set<String> { lock.withLock { held } }
    /// The zone of each spot request sent through the proxy, in order.
    var requestedZones: [String] { lock.withLock { zones } }
    /// When each spot request went through, and when dstack was first shown one held.
    var requestedAt: [Date] { lock.withLock { requestTimes } }
    var firstHeldAt: Date? { lock.withLock { firstHeld } }
    func stop() { server.stop() }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let form = request.bodyText
        if form.contains("Action=RequestSpotInstances"),
           let zone = Self.formValue(form, "LaunchSpecification.Placement.AvailabilityZone") {
            lock.withLock {
                if heldZone == nil { heldZone = zone }
                zones.append(zone)
                requestTimes.append(Date())
            }
        }
        let forwarded = HTTPRequest(method: request.method, url: upstream + request.path,
                                    headers: request.headers.filter { !["host", "content-length", "connection"].contains($0.name.lowercased()) }
                                        .map { HTTPHeader($0.name, $0.value) },
                                    body: request.body)
        guard let reply = try? client.sendBlocking(forwarded) else { return LocalHTTPServer.Response(status: 502) }
        var body = reply.bodyText
        if form.contains("Action=DescribeSpotInstanceRequests"), let zone = self.zone {
            body = rewrite(body, heldZone: zone)
        }
        return LocalHTTPServer.Response(status: reply.status, headers: [("Content-Type", "text/xml")], body: body)
    }

    /// Each top-level `<item>` of `spotInstanceRequestSet` placed in the held zone: open,
    /// the holding status, no instance.
    private func rewrite(_ xml: String, heldZone: String) -> String {
        guard let setStart = xml.range(of: "<spotInstanceRequestSet>"), let setEnd = xml.range(of: "</spotInstanceRequestSet>") else {
            return xml
        }
        var items: [String] = []
        var depth = 0
        var current = ""
        var rest = xml[setStart.upperBound..<setEnd.lowerBound]
        while !rest.isEmpty {
            if rest.hasPrefix("<item>") {
                depth += 1
                if depth == 1 { current = "" }
                current += depth == 1 ? "" : "<item>"
                rest = rest.dropFirst(6)
            } else if rest.hasPrefix("</item>") {
                depth -= 1
                if depth == 0 { items.append(current) } else { current += "</item>" }
                rest = rest.dropFirst(7)
            } else {
                if depth >= 1 { current.append(rest.first!) }
                rest = rest.dropFirst()
            }
        }
        let rewritten = items.map { item -> String in
            guard item.contains("<availabilityZone>\(heldZone)</availabilityZone>") else { return "<item>\(item)</item>" }
            if let id = Self.element(item, "spotInstanceRequestId") {
                lock.withLock {
                    held.insert(id)
                    if firstHeld == nil { firstHeld = Date() }
                }
            }
            var changed = item.replacingOccurrences(of: "<state>active</state>", with: "<state>open</state>")
            changed = changed.replacingOccurrences(of: #"<code>[a-z-]+</code>"#, with: "<code>\(status)</code>", options: .regularExpression)
            changed = changed.replacingOccurrences(of: #"<instanceId>[^<]*</instanceId>"#, with: "", options: .regularExpression)
            changed = changed.replacingOccurrences(of: #"<launchedAvailabilityZone>[^<]*</launchedAvailabilityZone>"#, with: "",
                                                   options: .regularExpression)
            return "<item>\(changed)</item>"
        }
        return String(xml[..<setStart.upperBound]) + rewritten.joined() + String(xml[setEnd.lowerBound...])
    }

    static func element(_ xml: String, _ name: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    static func formValue(_ form: String, _ key: String) -> String? {
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, parts[0].removingPercentEncoding == key { return parts[1].removingPercentEncoding }
        }
        return nil
    }
}
