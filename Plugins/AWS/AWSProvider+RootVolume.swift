import DstackProvider
import Foundation

extension AWSProvider {
    /// The launch specification's block device mapping that sizes the root volume: the
    /// image's root device (from DescribeImages; `/dev/sda1` on Ubuntu, `/dev/xvda` on
    /// Amazon Linux), a gp3 volume of `sizeGB`, deleted with the instance.
    func rootVolume(image: String, sizeGB: Int) async throws -> [(String, String)] {
        let device = try await rootDevices.name(image: image) { try await self.lookUpRootDeviceName(image) }
        return [
            ("LaunchSpecification.BlockDeviceMapping.1.DeviceName", device),
            ("LaunchSpecification.BlockDeviceMapping.1.Ebs.VolumeSize", String(sizeGB)),
            ("LaunchSpecification.BlockDeviceMapping.1.Ebs.VolumeType", "gp3"),
            ("LaunchSpecification.BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"),
        ]
    }

    func lookUpRootDeviceName(_ image: String) async throws -> String {
        let reply = try await ec2("DescribeImages", EC2Params.list("ImageId", [image]))
        guard let found = reply.items("imagesSet").first(where: { $0.string("imageId") == image }) else {
            throw ProviderError.invalidConfiguration(detail: "EC2 does not know the image \(image) in \(region)")
        }
        guard let device = found.string("rootDeviceName"), !device.isEmpty else {
            throw ProviderError.invalidConfiguration(detail: "the image \(image) names no root device, so its disk cannot be sized")
        }
        return device
    }
}

/// Root device names by image, looked up once per process (an image never changes its).
actor RootDeviceNames {
    private var names: [String: String] = [:]

    func name(image: String, lookup: @Sendable () async throws -> String) async throws -> String {
        if let known = names[image] { return known }
        let found = try await lookup()
        names[image] = found
        return found
    }
}
