import DstackProvider
import DstackWire
import Foundation

/// The AWS EC2 spot provider. It works with exactly the seed's IAM permissions
/// (ec2:Describe*, RequestSpotInstances, TerminateInstances, CancelSpotInstanceRequests,
/// CreateSecurityGroup, AuthorizeSecurityGroupIngress/Egress): it recognises its
/// instances by its own security group and by the spot request IDs state records, and
/// only tags or hardens IMDS when those extra permissions happen to be granted.
public final class AWSProvider: CloudProvider, Sendable {
    public struct Options: Sendable {
        /// Defaults to the core's libcurl client.
        public var transport: (any HTTPTransport)?
        public var retry: RetryPolicy
        public var bucket: TokenBucket?
        public var now: @Sendable () -> Date
        /// For IMDSv2 credentials; defaults to a libcurl client with short timeouts.
        public var metadataTransport: (any HTTPTransport)?

        public init(transport: (any HTTPTransport)? = nil, retry: RetryPolicy = RetryPolicy(), bucket: TokenBucket? = nil,
                    now: @escaping @Sendable () -> Date = { Date() }, metadataTransport: (any HTTPTransport)? = nil) {
            self.transport = transport
            self.retry = retry
            self.bucket = bucket
            self.now = now
            self.metadataTransport = metadataTransport
        }
    }

    public let client: EC2Client
    public let installationID: String
    let settings: AWSSettings
    let resources = AWSResources()
    let rootDevices = RootDeviceNames()
    /// Spot prices per zone and default subnets (AWSProvider+Placement.swift).
    let spotCaches = AWSSpotCaches()
    /// Canonical's account, which publishes the official Ubuntu images.
    static let canonicalOwner = "099720109477"
    static let batchSize = 1000

    public init(settings raw: ProviderSettings, context: ProviderContext, options: Options = Options()) throws {
        let environment = context.environment
        let files = AWSConfigFiles.load(environment: environment)
        let endpoint = try AWSEndpoint.resolve(settings: raw, environment: environment, files: files)
        try AWSCredentialSettings.check(raw)
        let chain = CredentialsChain(settings: raw, environment: environment, files: files,
                                     imds: IMDSCredentials.fromEnvironment(environment, transport: options.metadataTransport))
        settings = try AWSSettings(settings: raw, installationID: context.installationID)
        installationID = context.installationID
        let transport = options.transport ?? CurlHTTPClient(options: .init(proxy: .fromEnvironment(environment)))
        client = EC2Client(endpoint: endpoint, credentials: CredentialsCache(chain: chain, now: options.now),
                           transport: transport, retry: options.retry, bucket: options.bucket ?? TokenBucket(),
                           now: options.now, observer: context.callObserver)
    }

    public var region: String { client.endpoint.region }
    public var securityGroupName: String { settings.securityGroupName }

    // MARK: The five operations

    public func verifyConfiguration() async throws {
        try await guarded {
            let reply = try await ec2("DescribeRegions", EC2Params.list("RegionName", [region]))
            guard reply.items("regionInfo").contains(where: { $0.string("regionName") == region }) else {
                throw ProviderError.invalidConfiguration(detail: "EC2 does not know the region '\(region)'")
            }
        }
    }

    public func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        try await guarded {
            var facts = try await resources.facts(name) { try await self.lookUpInstanceType(name) }
            facts.spotPriceHistory = await spotPriceHistory(name)
            facts.spotPricesByZone = AWSProvider.latestByZone(facts.spotPriceHistory)
            facts.spotPricePerHour = facts.spotPricesByZone.values.min()
            return facts
        }
    }

    public func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch {
        try await guarded {
            if let earlier = await resources.launch(token: request.idempotencyToken) { return earlier }
            guard request.count >= 1 else {
                throw ProviderError.invalidConfiguration(detail: "a spot request needs at least one instance")
            }
            let facts = try await validateInstanceType(request.instanceType)
            let image = try await imageID(architecture: facts.architecture)
            let group = try await resources.securityGroup { try await self.findOrCreateSecurityGroup() }
            var parameters: [(String, String)] = [
                ("InstanceCount", String(request.count)),
                ("Type", "one-time"),
                ("ClientToken", Self.clientToken(request.idempotencyToken)),
                ("LaunchSpecification.ImageId", image),
                ("LaunchSpecification.InstanceType", request.instanceType),
                ("LaunchSpecification.SecurityGroupId.1", group),
                ("LaunchSpecification.UserData", Crypto.base64(request.userData)),
            ]
            if let price = request.maxPrice ?? settings.maxPrice { parameters.append(("SpotPrice", price)) }
            if let diskGB = request.diskGB { parameters += try await rootVolume(image: image, sizeGB: diskGB) }
            parameters += try await placement(zone: request.availabilityZone)
            let reply = try await ec2("RequestSpotInstances", parameters, instanceType: request.instanceType)
            let requests = reply.items("spotInstanceRequestSet").map(EC2SpotRequest.init)
            let instanceIDs = requests.compactMap(\.instanceID)
            await tagIfAllowed(requests.map(\.id) + instanceIDs)
            await requireIMDSv2IfAllowed(instanceIDs)
            let launch = SpotLaunch(
                spotRequestIDs: requests.map(\.id),
                instances: requests.compactMap { spot in
                    spot.instanceID.map {
                        ManagedInstance(id: $0, instanceType: request.instanceType, state: .pending, launchTime: spot.createTime,
                                        spotRequestID: spot.id)
                    }
                })
            await resources.record(launch, token: request.idempotencyToken)
            return launch
        }
    }

    public func terminate(_ target: TerminationTarget) async throws {
        try await guarded { try await terminateAll(target) }
    }

    public func list(known: KnownResources) async throws -> [ManagedInstance] {
        try await guarded { try await listAll(known: known) }
    }

    // MARK: Helpers shared by the operations

    /// One EC2 action; its failure as a `ProviderError`.
    func ec2(_ action: String, _ parameters: [(String, String)] = [], instanceType: String? = nil) async throws -> XMLElementNode {
        do {
            return try await client.call(action, parameters, instanceType: instanceType)
        } catch let error as EC2CallError {
            throw error.providerError
        }
    }

    /// Only `ProviderError` leaves the provider.
    func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ProviderError {
            throw error
        } catch let error as EC2CallError {
            throw error.providerError
        } catch {
            throw ProviderError.transport(detail: "\(error)")
        }
    }

    /// EC2 takes a ClientToken of at most 64 ASCII characters; longer tokens are hashed
    /// so the same token still names the same launch.
    static func clientToken(_ token: String) -> String {
        if token.utf8.count <= 64, token.allSatisfy(\.isASCII) { return token }
        return String(Crypto.hex(Crypto.sha256(token)).prefix(64))
    }

    static func chunks<T>(_ items: [T], of size: Int = batchSize) -> [[T]] {
        stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }
}
