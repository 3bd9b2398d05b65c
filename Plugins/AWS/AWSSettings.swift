import DstackProvider
import Foundation

/// The provider's own settings beyond credentials, region and endpoint.
struct AWSSettings: Sendable, Equatable {
    /// An AMI to launch instead of the latest Ubuntu LTS.
    var amiID: String?
    /// Default highest spot price per instance-hour ("0.05"); a request's own wins.
    var maxPrice: String?
    /// Inbound rules the user asked for; none by default.
    var ingress: [IngressRule]
    /// The security group dstack owns in this account and region.
    var securityGroupName: String

    struct IngressRule: Sendable, Equatable {
        var ipProtocol: String
        var fromPort: Int
        var toPort: Int
        var cidr: String
    }

    init(settings: ProviderSettings, installationID: String) throws {
        func value(_ key: String) -> String? {
            guard let v = settings[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        amiID = value("ami_id")
        if let ami = amiID, !ami.hasPrefix("ami-") {
            throw ProviderError.invalidConfiguration(detail: "ami_id '\(ami)' is not an AMI ID (ami-…)")
        }
        maxPrice = value("max_price")
        if let price = maxPrice, Double(price) == nil || Double(price)! <= 0 {
            throw ProviderError.invalidConfiguration(detail: "max_price '\(price)' is not a positive number of USD per hour")
        }
        ingress = try value("ingress_rules").map(Self.parseIngress) ?? []
        let safeID = installationID.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        securityGroupName = "dstack-" + (safeID.isEmpty ? "default" : String(safeID.prefix(200)))
    }

    /// `tcp:22:203.0.113.0/24,tcp:8000-8100:10.0.0.0/8` → rules.
    static func parseIngress(_ text: String) throws -> [IngressRule] {
        try text.split(separator: ",").map { raw in
            let parts = raw.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 2).map(String.init)
            let usage = "ingress rule '\(raw)' is not PROTOCOL:PORT[-PORT]:CIDR (e.g. tcp:22:203.0.113.0/24)"
            guard parts.count == 3, ["tcp", "udp"].contains(parts[0].lowercased()), parts[2].contains("/") else {
                throw ProviderError.invalidConfiguration(detail: usage)
            }
            let ports = parts[1].split(separator: "-").compactMap { Int($0) }
            guard (1...2).contains(ports.count), ports.allSatisfy({ (0...65535).contains($0) }), ports.first! <= ports.last! else {
                throw ProviderError.invalidConfiguration(detail: usage)
            }
            return IngressRule(ipProtocol: parts[0].lowercased(), fromPort: ports.first!, toPort: ports.last!, cidr: parts[2])
        }
    }
}
