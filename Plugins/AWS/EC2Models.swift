import DstackProvider
import Foundation

/// The few fields dstack reads from EC2's XML replies (names from botocore's
/// ec2/2016-11-15 model, where each member's `locationName` is its XML element).
struct EC2SpotRequest: Sendable, Equatable {
    var id: String
    /// open | active | closed | cancelled | failed | disabled
    var state: String
    var instanceID: String?
    var instanceType: String
    var groupIDs: [String]
    var createTime: Date?
    var statusCode: String?
    /// Where it asked to be placed, or where EC2 launched it.
    var availabilityZone: String?

    init(_ item: XMLElementNode) {
        id = item.string("spotInstanceRequestId") ?? ""
        state = item.string("state") ?? ""
        instanceID = item.string("instanceId").flatMap { $0.isEmpty ? nil : $0 }
        instanceType = item.string("launchSpecification", "instanceType") ?? ""
        groupIDs = item.items("launchSpecification", "groupSet").compactMap { $0.string("groupId") }
        createTime = item.string("createTime").flatMap(EC2Time.parse)
        statusCode = item.string("status", "code")
        availabilityZone = (item.string("launchedAvailabilityZone") ?? item.string("launchSpecification", "placement", "availabilityZone"))
            .flatMap { $0.isEmpty ? nil : $0 }
    }

    var isLive: Bool { state == "open" || state == "active" || state == "disabled" }
}

struct EC2Instance: Sendable, Equatable {
    var id: String
    var instanceType: String
    var state: InstanceState
    var launchTime: Date?
    var spotRequestID: String?
    var groupIDs: [String]
    var httpTokens: String?
    var extras: [String: String]
    /// `stateReason/code`, such as `Server.SpotInstanceTermination`.
    var stateReason: String?

    init(_ item: XMLElementNode) {
        id = item.string("instanceId") ?? ""
        instanceType = item.string("instanceType") ?? ""
        state = EC2Instance.state(item.string("instanceState", "name") ?? "")
        launchTime = item.string("launchTime").flatMap(EC2Time.parse)
        spotRequestID = item.string("spotInstanceRequestId").flatMap { $0.isEmpty ? nil : $0 }
        groupIDs = item.items("groupSet").compactMap { $0.string("groupId") }
        httpTokens = item.string("metadataOptions", "httpTokens")
        stateReason = item.string("stateReason", "code")
        var extras: [String: String] = [:]
        extras["availability_zone"] = item.string("placement", "availabilityZone")
        extras["private_ip"] = item.string("privateIpAddress")
        extras["public_ip"] = item.string("ipAddress")
        extras["image_id"] = item.string("imageId")
        self.extras = extras.filter { !$0.value.isEmpty }
    }

    static func state(_ name: String) -> InstanceState {
        switch name {
        case "pending": return .pending
        case "running": return .running
        case "stopping": return .stopping
        case "stopped": return .stopped
        case "shutting-down": return .shuttingDown
        case "terminated": return .terminated
        default: return .pending
        }
    }

    /// Every instance of a DescribeInstances page (reservations hold the instances).
    static func all(in reply: XMLElementNode) -> [EC2Instance] {
        reply.items("reservationSet").flatMap { $0.items("instancesSet") }.map(EC2Instance.init)
    }
}

extension InstanceTypeFacts {
    /// From an `instanceTypeSet/item`.
    init(ec2 item: XMLElementNode) {
        let architectures = item.items("processorInfo", "supportedArchitectures").map(\.text)
        let gpus = item.items("gpuInfo", "gpus").map { gpu -> GPUFacts in
            let model = [gpu.string("manufacturer"), gpu.string("name")].compactMap { $0 }.joined(separator: " ")
            return GPUFacts(count: Int(gpu.string("count") ?? "") ?? 0, model: model,
                            memoryMiB: gpu.string("memoryInfo", "sizeInMiB").flatMap { Int($0) })
        }
        self.init(name: item.string("instanceType") ?? "",
                  vcpus: Int(item.string("vCpuInfo", "defaultVCpus") ?? "") ?? 0,
                  memoryMiB: Int(item.string("memoryInfo", "sizeInMiB") ?? "") ?? 0,
                  gpus: gpus,
                  architecture: architectures.contains("x86_64") ? "x86_64" : (architectures.first ?? "x86_64"))
    }
}

enum EC2Time {
    /// EC2 timestamps: "2026-11-29T00:44:19.000Z", sometimes without the fraction.
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }
}
