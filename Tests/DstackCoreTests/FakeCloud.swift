import DstackCore
import Foundation

/// An in-memory cloud for reconciler tests: it injects what a real one cannot on cue
/// (no capacity for a type, an instance vanishing) and counts every call.
final class FakeCloud: CloudProvider, @unchecked Sendable {
    private let lock = NSLock()
    var facts: [String: InstanceTypeFacts]
    private(set) var instances: [String: ManagedInstance] = [:]
    private var launchesByToken: [String: SpotLaunch] = [:]
    var noCapacity: Set<String> = []
    /// When false, spot requests stay open (unfulfilled, with this status code) until `fulfil`.
    var fulfilAtOnce = true
    var openRequestStatus = "pending-evaluation"
    /// How the cloud classes each holding status (as EC2's provider does).
    var holds: [String: RequestHold] = ["capacity-not-available": .mayChange, "price-too-low": .cannotChange]
    /// Spot requests asked for and not yet cancelled.
    private(set) var liveRequests: Set<String> = []
    private(set) var calls: [String] = []
    /// The zone each spot request asked for, in order (nil: the cloud's choice).
    private(set) var requestedZones: [String?] = []
    /// How many of the next terminate calls fail, throttled, having done nothing.
    var failTerminations = 0
    /// Runs inside requestSpot, before anything is created (to look at state then).
    var onRequest: ((SpotRequest) -> Void)?
    private var counter = 0

    init(types: [InstanceTypeFacts]) {
        facts = Dictionary(uniqueKeysWithValues: types.map { ($0.name, $0) })
    }

    func verifyConfiguration() async throws { record("verify") }

    func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        record("validate")
        guard let found = lock.withLock({ facts[name] }) else {
            throw ProviderError.unsupportedInstanceType(name: name, reason: "unknown")
        }
        return found
    }

    func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch {
        record("requestSpot")
        onRequest?(request)
        return try lock.withLock {
            if let earlier = launchesByToken[request.idempotencyToken] { return earlier }
            requestedZones.append(request.availabilityZone)
            if noCapacity.contains(request.instanceType) {
                throw ProviderError.capacityUnavailable(instanceType: request.instanceType, detail: "InsufficientInstanceCapacity")
            }
            var created: [ManagedInstance] = []
            var requests: [String] = []
            for _ in 0..<request.count {
                counter += 1
                let instance = fulfilAtOnce
                    ? ManagedInstance(id: "i-\(counter)", instanceType: request.instanceType, state: .running,
                                      launchTime: Date(), spotRequestID: "sir-\(counter)")
                    : ManagedInstance(id: "sir-\(counter)", instanceType: request.instanceType, state: .pending,
                                      launchTime: Date(), spotRequestID: "sir-\(counter)", isUnfulfilledRequest: true,
                                      spotRequestStatus: openRequestStatus, availabilityZone: request.availabilityZone)
                instances[instance.id] = instance
                instances[instance.id]?.requestHold = holds[openRequestStatus]
                if fulfilAtOnce { created.append(instance) }
                requests.append("sir-\(counter)")
                liveRequests.insert("sir-\(counter)")
            }
            let launch = SpotLaunch(spotRequestIDs: requests, instances: created)
            launchesByToken[request.idempotencyToken] = launch
            return launch
        }
    }

    func terminate(_ target: TerminationTarget) async throws {
        record("terminate")
        let fails: Bool = lock.withLock {
            if failTerminations > 0 { failTerminations -= 1; return true }
            return false
        }
        if fails { throw ProviderError.throttled(detail: "TerminateInstances: RequestLimitExceeded (after 5 attempts)") }
        lock.withLock {
            for id in target.instanceIDs { instances[id]?.state = .terminated }
            for id in target.spotRequestIDs {
                liveRequests.remove(id)
                if instances[id]?.isUnfulfilledRequest == true { instances[id] = nil }
            }
        }
    }

    func list(known: KnownResources) async throws -> [ManagedInstance] {
        record("list")
        return lock.withLock { Array(instances.values) }
    }

    /// An open spot request gets its instance, in `state` (pending while it boots).
    func fulfil(_ requestID: String, state: InstanceState = .pending) {
        lock.withLock {
            guard let request = instances.removeValue(forKey: requestID) else { return }
            let id = "i-" + requestID.dropFirst("sir-".count)
            instances[id] = ManagedInstance(id: id, instanceType: request.instanceType, state: state, launchTime: Date(),
                                            spotRequestID: requestID)
        }
    }

    /// An instance appears as the cloud made it (a request fulfilled as its cancel went out).
    func add(_ instance: ManagedInstance) {
        lock.withLock { instances[instance.id] = instance }
    }

    func setState(_ id: String, _ state: InstanceState) {
        lock.withLock { instances[id]?.state = state }
    }

    /// The instance disappears as a spot interruption would.
    func interrupt(_ id: String) {
        lock.withLock { instances[id]?.state = .terminated }
    }

    /// The cloud's list shows the instance being taken back (as EC2's spot request
    /// status or state reason does), the instance still running.
    func signalInterruption(_ id: String, _ signal: String) {
        lock.withLock { instances[id]?.interruptionSignal = signal }
    }

    func setZone(_ id: String, _ zone: String) {
        lock.withLock { instances[id]?.availabilityZone = zone }
    }

    var liveInstances: [ManagedInstance] { lock.withLock { instances.values.filter { $0.state.isLive } } }

    func resetCalls() { lock.withLock { calls = [] } }

    private func record(_ call: String) { lock.withLock { calls.append(call) } }
}

extension FakeCloud {
    /// A workspace on `home` whose one configured provider, "fake", is this cloud; its
    /// state on the test's backend unless `databaseURL` names one.
    func workspace(home: DstackHome, databaseURL: DatabaseURL?? = nil) throws -> Workspace {
        let registry = ProviderRegistry([ProviderPlugin(vendor: "fake", displayName: "Fake", fields: [],
                                                        makeProvider: { _, _ in self })])
        let workspace = Workspace(home: home, registry: registry, environment: [:],
                                  databaseURL: try databaseURL ?? TestStateBackend.databaseURL())
        try workspace.configStore.save(Configuration(activeVendor: "fake", providers: ["fake": [:]]))
        return workspace
    }
}
