import DstackProvider
import Foundation

extension AWSProvider {
    /// Exists (DescribeInstanceTypes), can run as spot (SupportedUsageClasses), and is
    /// offered in the region (DescribeInstanceTypeOfferings).
    func lookUpInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        let reply: XMLElementNode
        do {
            reply = try await client.call("DescribeInstanceTypes", EC2Params.list("InstanceType", [name]))
        } catch let error as EC2CallError where error.reply.code == "InvalidInstanceType"
            || error.reply.code == "InvalidParameterValue" {
            throw ProviderError.unsupportedInstanceType(name: name, reason: "EC2 has no such instance type")
        }
        guard let item = reply.items("instanceTypeSet").first(where: { $0.string("instanceType") == name }) else {
            throw ProviderError.unsupportedInstanceType(name: name, reason: "EC2 has no such instance type")
        }
        guard item.items("supportedUsageClasses").contains(where: { $0.text == "spot" }) else {
            throw ProviderError.unsupportedInstanceType(name: name, reason: "it cannot run as a spot instance")
        }
        var offered = false
        do {
            try await client.paginate("DescribeInstanceTypeOfferings",
                                      [("LocationType", "region")] + EC2Params.filters([("instance-type", [name])])) { page in
                if page.items("instanceTypeOfferingSet").contains(where: { $0.string("instanceType") == name }) { offered = true }
            }
        } catch let error as EC2CallError {
            throw error.providerError
        }
        guard offered else {
            throw ProviderError.unsupportedInstanceType(name: name, reason: "it is not offered in region \(region)")
        }
        return InstanceTypeFacts(ec2: item)
    }

    /// The configured AMI, else the newest Ubuntu LTS server image for the architecture.
    func imageID(architecture: String) async throws -> String {
        if let ami = settings.amiID { return ami }
        return try await resources.image(architecture: architecture) { try await self.latestUbuntuLTS(architecture) }
    }

    func latestUbuntuLTS(_ architecture: String) async throws -> String {
        var best: (version: Int, created: String, id: String)?
        do {
            try await client.paginate("DescribeImages", EC2Params.list("Owner", [Self.canonicalOwner]) + EC2Params.filters([
                ("name", ["ubuntu/images/hvm-ssd*/ubuntu-*-server-*"]),
                ("architecture", [architecture]),
                ("state", ["available"]),
            ])) { page in
                for image in page.items("imagesSet") {
                    guard let id = image.string("imageId"), let name = image.string("name"),
                          let version = Self.ltsVersion(name) else { continue }
                    let created = image.string("creationDate") ?? ""
                    if best == nil || (version, created) > (best!.version, best!.created) { best = (version, created, id) }
                }
            }
        } catch let error as EC2CallError {
            throw error.providerError
        }
        guard let best else {
            throw ProviderError.invalidConfiguration(
                detail: "no Ubuntu LTS image for \(architecture) in \(region); set one with `dstack aws configure --ami-id`")
        }
        return best.id
    }

    /// "…/ubuntu-jammy-22.04-amd64-server-2024…" → 2204 when it is an LTS (even year, April).
    static func ltsVersion(_ name: String) -> Int? {
        for token in name.split(whereSeparator: { $0 == "-" || $0 == "/" }) {
            let parts = token.split(separator: ".")
            guard parts.count == 2, parts[1] == "04", let year = Int(parts[0]), year % 2 == 0 else { continue }
            return year * 100 + 4
        }
        return nil
    }

    /// dstack's group, looked up by name; nil when it was never created.
    func existingSecurityGroup() async throws -> String? {
        if let known = await resources.knownGroup { return known }
        let reply = try await ec2("DescribeSecurityGroups", EC2Params.filters([("group-name", [settings.securityGroupName])]))
        let found = reply.items("securityGroupInfo").first { $0.string("groupName") == settings.securityGroupName }?.string("groupId")
        if let found { await resources.remember(group: found) }
        return found
    }

    /// Found or created once per process: no inbound rules unless the user configured
    /// some, and EC2's default open egress.
    func findOrCreateSecurityGroup() async throws -> String {
        var id = try await existingSecurityGroup()
        if id == nil {
            do {
                let reply = try await client.call("CreateSecurityGroup", [
                    ("GroupName", settings.securityGroupName),
                    ("GroupDescription", "dstack spot instances of installation \(installationID)"),
                ])
                id = reply.string("groupId")
            } catch let error as EC2CallError where error.reply.code == "InvalidGroup.Duplicate" {
                id = try await existingSecurityGroup() // another dstack process created it first
            } catch let error as EC2CallError {
                throw error.providerError
            }
        }
        guard let group = id, !group.isEmpty else {
            throw ProviderError.transport(detail: "EC2 created security group \(settings.securityGroupName) but returned no ID")
        }
        await resources.remember(group: group)
        for rule in settings.ingress {
            do {
                _ = try await client.call("AuthorizeSecurityGroupIngress", [
                    ("GroupId", group),
                    ("IpPermissions.1.IpProtocol", rule.ipProtocol),
                    ("IpPermissions.1.FromPort", String(rule.fromPort)),
                    ("IpPermissions.1.ToPort", String(rule.toPort)),
                    ("IpPermissions.1.IpRanges.1.CidrIp", rule.cidr),
                ])
            } catch let error as EC2CallError where error.reply.code == "InvalidPermission.Duplicate" {
                continue
            } catch let error as EC2CallError {
                throw error.providerError
            }
        }
        return group
    }

    /// Tags requests and instances when ec2:CreateTags is granted; silently not otherwise.
    func tagIfAllowed(_ resourceIDs: [String]) async {
        guard !resourceIDs.isEmpty, !(await resources.isDenied("CreateTags")) else { return }
        let tags = EC2Params.tags([("dstack:managed", "true"), ("dstack:installation", installationID)])
        do {
            _ = try await client.call("CreateTags", EC2Params.list("ResourceId", resourceIDs) + tags)
        } catch let error as EC2CallError where EC2ErrorReply.deniedCodes.contains(error.reply.code) {
            await resources.markDenied("CreateTags")
        } catch {
            // Tags are a convenience; the security group and state identify the instances.
        }
    }

    /// RequestSpotInstances cannot require IMDSv2, so require it afterwards when
    /// ec2:ModifyInstanceMetadataOptions is granted (the runner always uses tokens).
    func requireIMDSv2IfAllowed(_ instanceIDs: [String]) async {
        for id in await resources.claimForHardening(instanceIDs) {
            guard !(await resources.isDenied("ModifyInstanceMetadataOptions")) else { return }
            do {
                _ = try await client.call("ModifyInstanceMetadataOptions",
                                          [("InstanceId", id), ("HttpTokens", "required"), ("HttpEndpoint", "enabled")])
            } catch let error as EC2CallError where EC2ErrorReply.deniedCodes.contains(error.reply.code) {
                await resources.markDenied("ModifyInstanceMetadataOptions")
            } catch {
                continue
            }
        }
    }
}
