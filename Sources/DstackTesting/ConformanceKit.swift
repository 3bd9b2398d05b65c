import DstackProvider
import Foundation

/// A check of the provider contract that did not hold.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The checks every provider's own tests run. Each check throws `ConformanceFailure`
/// naming the broken promise; a test calls the checks it needs, or `runAll()`.
/// No XCTest here, so any test framework can drive it.
public struct ProviderConformance: Sendable {
    public var provider: any CloudProvider
    /// A type the provider must accept.
    public var goodInstanceType: String
    /// A type the provider must reject as unsupported.
    public var badInstanceType: String
    public var userData: String
    /// How long `list` may take to show a requested instance.
    public var settleTimeout: TimeInterval
    /// IDs shaped like the provider's own that never existed.
    public var neverExisted: TerminationTarget
    /// The same cloud and settings under another installation ID: neither lists what the
    /// other launches. nil skips that check.
    public var otherInstallation: (any CloudProvider)?
    /// The same provider with settings that cannot work (a wrong key, an unreachable
    /// endpoint, a missing binary): its verification must fail with a `ProviderError`.
    /// nil skips that check.
    public var misconfigured: (any CloudProvider)?

    public init(provider: any CloudProvider, goodInstanceType: String, badInstanceType: String,
                userData: String = "#!/bin/sh\necho dstack conformance\n", settleTimeout: TimeInterval = 20,
                neverExisted: TerminationTarget = TerminationTarget(instanceIDs: ["i-0123456789abcdef0"], spotRequestIDs: ["sir-0123abcd"]),
                otherInstallation: (any CloudProvider)? = nil, misconfigured: (any CloudProvider)? = nil) {
        self.provider = provider
        self.goodInstanceType = goodInstanceType
        self.badInstanceType = badInstanceType
        self.userData = userData
        self.settleTimeout = settleTimeout
        self.neverExisted = neverExisted
        self.otherInstallation = otherInstallation
        self.misconfigured = misconfigured
    }

    public func runAll() async throws {
        try await checkVerifiesConfiguration()
        try await checkVerificationFailsAsAProviderError()
        try await checkValidatesInstanceTypes()
        try await checkRequestListTerminate()
        try await checkLaunchesSeveral()
        try await checkListIsScopedToThisInstallation()
        try await checkTerminateTwiceIsFine()
        try await checkTerminatingWhatNeverExistedIsFine()
        try await checkFailuresAreProviderErrors()
    }

    /// The settings the provider was made with work.
    public func checkVerifiesConfiguration() async throws {
        do {
            try await provider.verifyConfiguration()
        } catch {
            throw ConformanceFailure("verifyConfiguration failed on good settings: \(error)")
        }
    }

    /// Settings that cannot work fail verification with a `ProviderError` the CLI can
    /// put in one sentence, not with some other error or not at all.
    public func checkVerificationFailsAsAProviderError() async throws {
        guard let misconfigured else { return }
        do {
            try await misconfigured.verifyConfiguration()
            throw ConformanceFailure("verifyConfiguration succeeded on settings that cannot work")
        } catch is ProviderError {
        } catch let failure as ConformanceFailure {
            throw failure
        } catch {
            throw ConformanceFailure("verifyConfiguration on bad settings threw a non-ProviderError: \(type(of: error)) \(error)")
        }
    }

    /// Two installations on one cloud account: each lists only what it launched itself,
    /// so neither's sweep ever terminates the other's instances.
    public func checkListIsScopedToThisInstallation() async throws {
        guard let otherInstallation else { return }
        let mine = try await launchAndWait(provider, what: "this installation's instance to be listed")
        let theirs = try await launchAndWait(otherInstallation, what: "the other installation's instance to be listed")
        let listedHere = try await provider.list(known: mine.known)
        let listedThere = try await otherInstallation.list(known: theirs.known)
        let foreignHere = listedHere.filter { $0.belongsToAny(theirs.launch) }
        let foreignThere = listedThere.filter { $0.belongsToAny(mine.launch) }
        try await provider.terminate(TerminationTarget(instances: mine.instances))
        try await otherInstallation.terminate(TerminationTarget(instances: theirs.instances))
        guard foreignHere.isEmpty else {
            throw ConformanceFailure("this installation lists another installation's instances: \(foreignHere.map(\.id))")
        }
        guard foreignThere.isEmpty else {
            throw ConformanceFailure("another installation lists this one's instances: \(foreignThere.map(\.id))")
        }
    }

    /// One request for two instances gives two (listed, of the type), both terminated
    /// together.
    public func checkLaunchesSeveral() async throws {
        let launch = try await provider.requestSpot(
            SpotRequest(instanceType: goodInstanceType, count: 2, userData: userData,
                        idempotencyToken: "conformance-\(UUID().uuidString)"))
        let known = KnownResources(spotRequestIDs: launch.spotRequestIDs, instanceIDs: launch.instances.map(\.id))
        let listed = try await waitForList(known: known, what: "both requested instances to be listed") { instances in
            let mine = instances.filter { self.belongs($0, to: launch) && $0.state.isLive && !$0.isUnfulfilledRequest }
            return mine.count >= 2 ? mine : []
        }
        guard Set(listed.map(\.id)).count == 2, listed.allSatisfy({ $0.instanceType == goodInstanceType }) else {
            throw ConformanceFailure("a request for 2 instances listed \(listed)")
        }
        try await provider.terminate(TerminationTarget(instances: listed))
        _ = try await waitForList(known: known, what: "both instances to be gone or terminating") { instances in
            let live = instances.filter { self.belongs($0, to: launch) && $0.state.isLive }
            return live.isEmpty ? [ManagedInstance(id: "done", instanceType: "", state: .terminated)] : []
        }
    }

    /// Terminating IDs that never existed is not an error: "not found" is a result.
    public func checkTerminatingWhatNeverExistedIsFine() async throws {
        do {
            try await provider.terminate(neverExisted)
        } catch {
            throw ConformanceFailure("terminating IDs that never existed threw \(error)")
        }
    }

    /// A good type validates with sane facts; a bad one is `unsupportedInstanceType`.
    public func checkValidatesInstanceTypes() async throws {
        let facts = try await provider.validateInstanceType(goodInstanceType)
        guard facts.name == goodInstanceType else {
            throw ConformanceFailure("validate(\(goodInstanceType)) returned facts for \(facts.name)")
        }
        guard facts.vcpus > 0, facts.memoryMiB > 0, !facts.architecture.isEmpty else {
            throw ConformanceFailure("validate(\(goodInstanceType)) returned empty facts: \(facts)")
        }
        do {
            let bad = try await provider.validateInstanceType(badInstanceType)
            throw ConformanceFailure("validate(\(badInstanceType)) accepted a bad type: \(bad)")
        } catch ProviderError.unsupportedInstanceType(let name, _) {
            guard name == badInstanceType else {
                throw ConformanceFailure("unsupportedInstanceType names \(name), expected \(badInstanceType)")
            }
        } catch let error as ProviderError {
            throw ConformanceFailure("validate(\(badInstanceType)) threw \(error), expected unsupportedInstanceType")
        }
    }

    /// Request one instance, see it listed, terminate it, see it gone or going.
    public func checkRequestListTerminate() async throws {
        let token = "conformance-\(UUID().uuidString)"
        let launch = try await provider.requestSpot(
            SpotRequest(instanceType: goodInstanceType, count: 1, userData: userData, idempotencyToken: token))
        guard !launch.spotRequestIDs.isEmpty || !launch.instances.isEmpty else {
            throw ConformanceFailure("requestSpot returned neither spot requests nor instances")
        }
        let known = KnownResources(spotRequestIDs: launch.spotRequestIDs, instanceIDs: launch.instances.map(\.id))
        let listed = try await waitForList(known: known, what: "the requested instance to be listed") { instances in
            instances.filter { self.belongs($0, to: launch) && $0.state.isLive }
        }
        guard listed.allSatisfy({ $0.instanceType == goodInstanceType }) else {
            throw ConformanceFailure("list shows the instance with the wrong type: \(listed)")
        }

        // The same token again must not create a second instance.
        let again = try await provider.requestSpot(
            SpotRequest(instanceType: goodInstanceType, count: 1, userData: userData, idempotencyToken: token))
        let allKnown = KnownResources(spotRequestIDs: Array(Set(known.spotRequestIDs + again.spotRequestIDs)),
                                      instanceIDs: Array(Set(known.instanceIDs + again.instances.map(\.id))))
        let afterRetry = try await provider.list(known: allKnown).filter {
            ($0.belongsToAny(launch) || $0.belongsToAny(again)) && $0.state.isLive
        }
        guard Set(afterRetry.map(\.id)).count <= 1 else {
            throw ConformanceFailure("a second requestSpot with the same idempotency token created more instances: \(afterRetry.map(\.id))")
        }

        try await provider.terminate(TerminationTarget(instances: listed + afterRetry))
        _ = try await waitForList(known: allKnown, what: "the instance to be gone or terminating") { instances in
            let live = instances.filter { ($0.belongsToAny(launch) || $0.belongsToAny(again)) && $0.state.isLive }
            return live.isEmpty ? [ManagedInstance(id: "done", instanceType: "", state: .terminated)] : []
        }
    }

    /// Terminating an instance twice is not an error.
    public func checkTerminateTwiceIsFine() async throws {
        let launch = try await provider.requestSpot(
            SpotRequest(instanceType: goodInstanceType, count: 1, userData: userData,
                        idempotencyToken: "conformance-\(UUID().uuidString)"))
        let known = KnownResources(spotRequestIDs: launch.spotRequestIDs, instanceIDs: launch.instances.map(\.id))
        let listed = try await waitForList(known: known, what: "the requested instance to be listed") { instances in
            instances.filter { self.belongs($0, to: launch) && $0.state.isLive }
        }
        let target = TerminationTarget(instances: listed)
        try await provider.terminate(target)
        do {
            try await provider.terminate(target)
        } catch {
            throw ConformanceFailure("terminating the same instance twice threw \(error)")
        }
    }

    /// Operations that must fail throw `ProviderError`, never anything else.
    public func checkFailuresAreProviderErrors() async throws {
        do {
            _ = try await provider.requestSpot(
                SpotRequest(instanceType: badInstanceType, count: 1, userData: userData,
                            idempotencyToken: "conformance-\(UUID().uuidString)"))
            throw ConformanceFailure("requestSpot(\(badInstanceType)) succeeded")
        } catch is ProviderError {
        } catch let failure as ConformanceFailure {
            throw failure
        } catch {
            throw ConformanceFailure("requestSpot(\(badInstanceType)) threw a non-ProviderError: \(type(of: error)) \(error)")
        }
    }

    /// A stub provider: every one of the five operations throws `notImplemented`.
    public static func checkNotImplemented(_ provider: any CloudProvider, vendor: String) async throws {
        let operations: [(String, () async throws -> Void)] = [
            ("verifyConfiguration", { try await provider.verifyConfiguration() }),
            ("validateInstanceType", { _ = try await provider.validateInstanceType("any") }),
            ("requestSpot", {
                _ = try await provider.requestSpot(SpotRequest(instanceType: "any", count: 1, userData: "", idempotencyToken: "t"))
            }),
            ("terminate", { try await provider.terminate(TerminationTarget(instanceIDs: ["i-1"])) }),
            ("list", { _ = try await provider.list() }),
        ]
        for (name, operation) in operations {
            do {
                try await operation()
                throw ConformanceFailure("\(name) succeeded on a stub provider")
            } catch ProviderError.notImplemented(let named) {
                guard named == vendor else { throw ConformanceFailure("\(name) names vendor \(named), expected \(vendor)") }
            } catch let failure as ConformanceFailure {
                throw failure
            } catch {
                throw ConformanceFailure("\(name) threw \(error), expected notImplemented(\(vendor))")
            }
        }
    }

    /// Launches one instance of the good type with `provider` and waits until it lists it.
    private func launchAndWait(_ provider: any CloudProvider, what: String) async throws
        -> (launch: SpotLaunch, known: KnownResources, instances: [ManagedInstance]) {
        let launch = try await provider.requestSpot(
            SpotRequest(instanceType: goodInstanceType, count: 1, userData: userData,
                        idempotencyToken: "conformance-\(UUID().uuidString)"))
        let known = KnownResources(spotRequestIDs: launch.spotRequestIDs, instanceIDs: launch.instances.map(\.id))
        let listed = try await waitForList(provider, known: known, what: what) { instances in
            instances.filter { $0.belongsToAny(launch) && $0.state.isLive }
        }
        return (launch, known, listed)
    }

    private func belongs(_ instance: ManagedInstance, to launch: SpotLaunch) -> Bool {
        instance.belongsToAny(launch)
    }

    /// Polls `list` until `select` returns something non-empty, or fails after the timeout.
    private func waitForList(_ provider: (any CloudProvider)? = nil, known: KnownResources, what: String,
                             _ select: @escaping ([ManagedInstance]) -> [ManagedInstance]) async throws -> [ManagedInstance] {
        let provider = provider ?? self.provider
        let deadline = Date().addingTimeInterval(settleTimeout)
        var last: [ManagedInstance] = []
        repeat {
            last = try await provider.list(known: known)
            let selected = select(last)
            if !selected.isEmpty { return selected }
            try await Task.sleep(nanoseconds: 200_000_000)
        } while Date() < deadline
        throw ConformanceFailure("timed out after \(Int(settleTimeout)) s waiting for \(what); list returned \(last)")
    }
}

extension ManagedInstance {
    fileprivate func belongsToAny(_ launch: SpotLaunch) -> Bool {
        launch.instances.contains { $0.id == id }
            || (spotRequestID.map { launch.spotRequestIDs.contains($0) } ?? false)
            || launch.spotRequestIDs.contains(id)
    }
}
