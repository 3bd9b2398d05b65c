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
    private(set) var calls: [String] = []
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
            if noCapacity.contains(request.instanceType) {
                throw ProviderError.capacityUnavailable(instanceType: request.instanceType, detail: "InsufficientInstanceCapacity")
            }
            var created: [ManagedInstance] = []
            var requests: [String] = []
            for _ in 0..<request.count {
                counter += 1
                let instance = ManagedInstance(id: "i-\(counter)", instanceType: request.instanceType, state: .running,
                                               launchTime: Date(), spotRequestID: "sir-\(counter)")
                instances[instance.id] = instance
                created.append(instance)
                requests.append("sir-\(counter)")
            }
            let launch = SpotLaunch(spotRequestIDs: requests, instances: created)
            launchesByToken[request.idempotencyToken] = launch
            return launch
        }
    }

    func terminate(_ target: TerminationTarget) async throws {
        record("terminate")
        lock.withLock {
            for id in target.instanceIDs { instances[id]?.state = .terminated }
        }
    }

    func list(known: KnownResources) async throws -> [ManagedInstance] {
        record("list")
        return lock.withLock { Array(instances.values) }
    }

    /// The instance disappears as a spot interruption would.
    func interrupt(_ id: String) {
        lock.withLock { instances[id]?.state = .terminated }
    }

    var liveInstances: [ManagedInstance] { lock.withLock { instances.values.filter { $0.state.isLive } } }

    func resetCalls() { lock.withLock { calls = [] } }

    private func record(_ call: String) { lock.withLock { calls.append(call) } }
}
