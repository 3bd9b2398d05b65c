import Foundation

/// What a provider knows about an instance type.
public struct InstanceTypeFacts: Sendable, Equatable, Hashable {
    public var name: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var gpus: [GPUFacts]
    /// "x86_64" or "arm64".
    public var architecture: String
    /// Current spot price in USD per hour, when the provider knows it cheaply.
    public var spotPricePerHour: Double?
    /// The current spot price in each availability zone that offers the type (USD per
    /// hour), when the provider knows it; empty: zones are the cloud's choice.
    public var spotPricesByZone: [String: Double] = [:]
    /// The price history the provider read with those prices (each zone's entries, with
    /// the cloud's own timestamps); empty when it has none. The cost model keeps them.
    public var spotPriceHistory: [SpotPricePoint] = []

    public init(name: String, vcpus: Int, memoryMiB: Int, gpus: [GPUFacts] = [], architecture: String, spotPricePerHour: Double? = nil) {
        self.name = name
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.gpus = gpus
        self.architecture = architecture
        self.spotPricePerHour = spotPricePerHour
    }

    public var gpuCount: Int { gpus.reduce(0) { $0 + $1.count } }
}

public struct GPUFacts: Sendable, Equatable, Hashable {
    public var count: Int
    public var model: String
    public var memoryMiB: Int?

    public init(count: Int, model: String, memoryMiB: Int? = nil) {
        self.count = count
        self.model = model
        self.memoryMiB = memoryMiB
    }
}

/// The lifecycle state of an instance, in the cloud's own terms mapped to a few values.
public enum InstanceState: String, Sendable, Equatable, CaseIterable {
    /// Requested but not running yet (includes an open, unfulfilled spot request).
    case pending
    case running
    case stopping
    case stopped
    case shuttingDown = "shutting-down"
    case terminated

    /// Counts against a rule's max: the instance bills or soon will.
    public var isLive: Bool {
        switch self {
        case .pending, .running, .stopping, .stopped: return true
        case .shuttingDown, .terminated: return false
        }
    }
}

/// Why an open spot request is not fulfilled, as far as waiting goes.
public enum RequestHold: String, Sendable, Equatable {
    /// It may be fulfilled later (no capacity now, not scheduled yet): worth a timeout.
    case mayChange
    /// It will not be fulfilled as asked (the price is too low, a constraint cannot be met).
    case cannotChange
}

/// An instance (or an open spot request not yet fulfilled) that this installation manages.
public struct ManagedInstance: Sendable, Equatable {
    /// The instance ID; for an unfulfilled spot request, the request ID.
    public var id: String
    public var instanceType: String
    public var state: InstanceState
    public var launchTime: Date?
    public var spotRequestID: String?
    /// True while this is only a spot request with no instance yet.
    public var isUnfulfilledRequest: Bool
    /// The cloud's status code for the spot request (e.g. `pending-evaluation`,
    /// `capacity-not-available`), when it reports one: why an open request waits.
    public var spotRequestStatus: String?
    /// Provider-specific facts (private IP, availability zone, ...), for display only.
    public var extras: [String: String]
    /// The availability zone (or the cloud's word for it) the instance or request is in:
    /// the core cools a zone that interrupted an instance.
    public var availabilityZone: String?
    /// For an unfulfilled request the cloud holds (no capacity, price too low, ...):
    /// whether waiting may still get it fulfilled. nil: not held (still being evaluated).
    public var requestHold: RequestHold?
    /// The cloud's own sign that it is taking the instance back (a spot interruption),
    /// in words that name the signal: `spot request status instance-terminated-by-price`,
    /// `state reason Server.SpotInstanceTermination`. nil: no such sign.
    public var interruptionSignal: String?

    public init(id: String, instanceType: String, state: InstanceState, launchTime: Date? = nil,
                spotRequestID: String? = nil, isUnfulfilledRequest: Bool = false, spotRequestStatus: String? = nil,
                extras: [String: String] = [:], availabilityZone: String? = nil, interruptionSignal: String? = nil) {
        self.availabilityZone = availabilityZone
        self.interruptionSignal = interruptionSignal
        self.id = id
        self.instanceType = instanceType
        self.state = state
        self.launchTime = launchTime
        self.spotRequestID = spotRequestID
        self.isUnfulfilledRequest = isUnfulfilledRequest
        self.spotRequestStatus = spotRequestStatus
        self.extras = extras
    }
}

/// N one-time spot instances of one type.
public struct SpotRequest: Sendable, Equatable {
    public var instanceType: String
    public var count: Int
    /// The bootstrap script, as plain text; the provider encodes it as its cloud needs.
    public var userData: String
    /// The same token always names the same launch: a retry never doubles instances.
    public var idempotencyToken: String
    /// Highest price per instance-hour the user accepts, as the cloud spells it ("0.05").
    public var maxPrice: String?
    /// The root volume each instance gets, in GB; nil leaves the image's default. A
    /// provider whose machines' disks are not its to size (the local one) ignores it.
    public var diskGB: Int?
    /// The availability zone to place the instances in; nil: the cloud's choice. A
    /// provider without zones ignores it.
    public var availabilityZone: String? = nil

    public init(instanceType: String, count: Int, userData: String, idempotencyToken: String, maxPrice: String? = nil,
                diskGB: Int? = nil) {
        self.instanceType = instanceType
        self.count = count
        self.userData = userData
        self.idempotencyToken = idempotencyToken
        self.maxPrice = maxPrice
        self.diskGB = diskGB
    }
}

/// What a spot request created. Instance IDs are known once the cloud fulfils the requests.
public struct SpotLaunch: Sendable, Equatable {
    public var spotRequestIDs: [String]
    public var instances: [ManagedInstance]

    public init(spotRequestIDs: [String], instances: [ManagedInstance]) {
        self.spotRequestIDs = spotRequestIDs
        self.instances = instances
    }
}

/// Instances to terminate and spot requests to cancel, in one call.
public struct TerminationTarget: Sendable, Equatable {
    public var instanceIDs: [String]
    public var spotRequestIDs: [String]

    public init(instanceIDs: [String] = [], spotRequestIDs: [String] = []) {
        self.instanceIDs = instanceIDs
        self.spotRequestIDs = spotRequestIDs
    }

    /// Everything needed to make these instances go away for good, including their
    /// spot requests (an uncancelled persistent request would launch a replacement).
    public init(instances: [ManagedInstance]) {
        self.instanceIDs = instances.filter { !$0.isUnfulfilledRequest }.map(\.id)
        self.spotRequestIDs = instances.compactMap(\.spotRequestID)
    }

    public var isEmpty: Bool { instanceIDs.isEmpty && spotRequestIDs.isEmpty }
}

/// What state records about an installation's resources, handed to `list`.
public struct KnownResources: Sendable, Equatable {
    public var spotRequestIDs: [String]
    public var instanceIDs: [String]

    public init(spotRequestIDs: [String] = [], instanceIDs: [String] = []) {
        self.spotRequestIDs = spotRequestIDs
        self.instanceIDs = instanceIDs
    }
}
