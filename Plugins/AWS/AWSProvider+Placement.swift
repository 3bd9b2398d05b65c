import DstackProvider
import Foundation

/// Where spot requests go and what they cost: the spot price of each zone
/// (DescribeSpotPriceHistory, cached 10 minutes per type) and each zone's default subnet
/// (DescribeSubnets, cached for the process). Both are within `ec2:Describe*`.
actor AWSSpotCaches {
    static let priceLifetime: TimeInterval = 600
    private var prices: [String: (at: Date, history: [SpotPricePoint])] = [:]
    private var subnets: [String: String?] = [:]

    func prices(_ type: String, now: Date, load: () async throws -> [SpotPricePoint]) async rethrows -> [SpotPricePoint] {
        if let cached = prices[type], now.timeIntervalSince(cached.at) < Self.priceLifetime { return cached.history }
        let fresh = try await load()
        prices[type] = (now, fresh)
        return fresh
    }

    func subnet(zone: String, load: () async throws -> String?) async rethrows -> String? {
        if let cached = subnets[zone] { return cached }
        let found = try await load()
        subnets[zone] = found
        return found
    }
}

extension AWSProvider {
    /// The Linux spot price history of `type` in each zone of the region from now on
    /// (EC2 includes the entry in effect at the start time, with its own timestamp); empty
    /// when EC2 gives none (the planner then ranks types by size).
    func spotPriceHistory(_ type: String) async -> [SpotPricePoint] {
        (try? await spotCaches.prices(type, now: client.now()) {
            var points: [SpotPricePoint] = []
            let parameters = EC2Params.list("InstanceType", [type]) + EC2Params.list("ProductDescription", ["Linux/UNIX"])
                + [("StartTime", EC2Time.format(client.now()))]
            try await client.paginate("DescribeSpotPriceHistory", parameters, pageSize: 1000) { page in
                for item in page.items("spotPriceHistorySet") {
                    guard let zone = item.string("availabilityZone"), let price = item.string("spotPrice").flatMap(Double.init) else {
                        continue
                    }
                    let at = item.string("timestamp").flatMap(EC2Time.parse) ?? client.now()
                    points.append(SpotPricePoint(zone: zone, at: at, pricePerHour: price))
                }
            }
            return points
        }) ?? []
    }

    /// The latest price of each zone in a history.
    static func latestByZone(_ history: [SpotPricePoint]) -> [String: Double] {
        var latest: [String: SpotPricePoint] = [:]
        for point in history where latest[point.zone].map({ $0.at <= point.at }) ?? true { latest[point.zone] = point }
        return latest.mapValues(\.pricePerHour)
    }

    /// The default subnet of `zone` (a spot request placed in a zone needs a subnet
    /// there in a VPC account); nil when the zone has none (EC2 then picks).
    func defaultSubnet(zone: String) async throws -> String? {
        try await spotCaches.subnet(zone: zone) {
            let reply = try await ec2("DescribeSubnets", EC2Params.filters([("availability-zone", [zone]), ("default-for-az", ["true"])]))
            return reply.items("subnetSet").first?.string("subnetId")
        }
    }

    /// The placement parameters of a spot request for `zone`.
    func placement(zone: String?) async throws -> [(String, String)] {
        guard let zone else { return [] }
        var parameters = [("LaunchSpecification.Placement.AvailabilityZone", zone)]
        if let subnet = try await defaultSubnet(zone: zone) { parameters.append(("LaunchSpecification.SubnetId", subnet)) }
        return parameters
    }
}

extension EC2Time {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

extension EC2SpotSignals {
    /// Holding statuses of an open one-time request: whether waiting may help.
    /// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-request-status.html
    static func hold(_ status: String?) -> RequestHold? {
        switch status {
        case "capacity-not-available", "capacity-oversubscribed", "not-scheduled-yet", "launch-group-constraint",
             "az-group-constraint", "placement-group-constraint":
            return .mayChange
        case "price-too-low", "constraint-not-fulfillable", "bad-parameters", "system-error":
            return .cannotChange
        default:
            return nil
        }
    }
}
