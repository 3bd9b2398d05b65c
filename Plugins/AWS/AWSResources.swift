import DstackProvider
import Foundation

/// What the provider looks up once per process: instance-type answers, the Ubuntu
/// image per architecture, dstack's security group, which optional permissions were
/// denied, and launches by idempotency token. Concurrent first lookups share one call.
actor AWSResources {
    private var typeAnswers: [String: Task<InstanceTypeFacts, Error>] = [:]
    private var images: [String: Task<String, Error>] = [:]
    private var securityGroup: Task<String, Error>?
    private var launches: [String: SpotLaunch] = [:]
    private(set) var deniedActions: Set<String> = []

    func facts(_ name: String, lookup: @escaping @Sendable () async throws -> InstanceTypeFacts) async throws -> InstanceTypeFacts {
        if let task = typeAnswers[name] { return try await task.value }
        let task = Task { try await lookup() }
        typeAnswers[name] = task
        do {
            return try await task.value
        } catch let error as ProviderError {
            // "Unsupported" is an answer worth keeping; anything else may pass.
            if case .unsupportedInstanceType = error {} else { typeAnswers[name] = nil }
            throw error
        } catch {
            typeAnswers[name] = nil
            throw error
        }
    }

    func image(architecture: String, lookup: @escaping @Sendable () async throws -> String) async throws -> String {
        if let task = images[architecture] { return try await task.value }
        let task = Task { try await lookup() }
        images[architecture] = task
        do { return try await task.value } catch { images[architecture] = nil; throw error }
    }

    func securityGroup(lookup: @escaping @Sendable () async throws -> String) async throws -> String {
        if let securityGroup { return try await securityGroup.value }
        let task = Task { try await lookup() }
        securityGroup = task
        do { return try await task.value } catch { securityGroup = nil; throw error }
    }

    /// dstack's group once seen: it is never deleted by dstack, so a lookup per list is waste.
    private(set) var knownGroup: String?
    func remember(group: String) { knownGroup = group }

    func launch(token: String) -> SpotLaunch? { launches[token] }
    func record(_ launch: SpotLaunch, token: String) { launches[token] = launch }

    private var hardened: Set<String> = []

    /// The IDs not yet given to ModifyInstanceMetadataOptions by this process; marks them.
    func claimForHardening(_ ids: [String]) -> [String] {
        let fresh = ids.filter { !hardened.contains($0) }
        hardened.formUnion(fresh)
        return fresh
    }

    func isDenied(_ action: String) -> Bool { deniedActions.contains(action) }
    func markDenied(_ action: String) { deniedActions.insert(action) }
}
