import Foundation

/// The autoscale commands of the seed document, as operations on state and the active
/// provider. Every operation changes state in one transaction first and then makes the
/// cloud match it, so a cloud failure leaves a state the server's reconciler finishes.
public struct AutoscaleService {
    public let workspace: Workspace
    /// The architectures this dstack has a runner binary for (next to its executable).
    public var runnerArchitectures: Set<String>

    public init(workspace: Workspace,
                runnerArchitectures: Set<String> = RunnerBinaries.architectures(in: RunnerBinaries.executableDirectory)) {
        self.workspace = workspace
        self.runnerArchitectures = runnerArchitectures
    }

    public struct AllowOutcome: Equatable {
        public var instanceType: String
        public var previousMax: Int
        public var newMax: Int
        public var shutDown: [ManagedInstance]
    }

    /// Adds, replaces or (with max 0) removes a rule, then shuts down the newest extra
    /// instances of that type. The provider validates the type before anything changes.
    public func allow(instanceType: String, max: Int) async throws -> AllowOutcome {
        precondition(max >= 0, "callers validate max")
        let active = try workspace.activeProvider()
        if max > 0 {
            let facts = try await active.provider.validateInstanceType(instanceType)
            // An instance whose architecture has no runner would boot only to bill.
            let runnerURL = (try workspace.configuration().providers[active.vendor] ?? [:])[RunnerDelivery.runnerURLSetting] ?? ""
            if !active.plugin.instancesRunOnThisMachine, runnerURL.isEmpty, !runnerArchitectures.contains(facts.architecture) {
                throw RunnerDeliveryError("\(instanceType) is an \(facts.architecture) type, and "
                    + RunnerDelivery.noRunnerReason(facts.architecture, vendor: active.vendor))
            }
        }
        let state = try workspace.state()
        let previous = try state.write { try $0.setRule(instanceType, max: max) }
        let instances = try await listManaged(active)
        let busy = try state.read { tx in Set(try tx.fleet(vendor: active.vendor).filter { $0.runID != nil }.map(\.id)) }
        let excess = ExcessInstances.toShutDown(instances, instanceType: instanceType, max: max, busy: busy)
        try await shutDown(excess, active, why: max == 0 ? "the rule for \(instanceType) was removed"
                                                        : "the max for \(instanceType) was lowered to \(max)")
        return AllowOutcome(instanceType: instanceType, previousMax: previous, newMax: max, shutDown: excess)
    }

    public struct RuleStatus: Equatable {
        public var instanceType: String
        public var max: Int
        public var instances: Int
    }

    public struct Info: Equatable {
        public var enabled: Bool
        public var vendor: String?
        public var rules: [RuleStatus]
    }

    /// The rules, sorted by type, with the live instances of each type as the cloud
    /// reports them. With no provider configured the counts are zero.
    public func info() async throws -> Info {
        let state = try workspace.state()
        let (rules, enabled) = try state.read { tx in (try tx.rules(), try tx.isEnabled()) }
        var counts: [String: Int] = [:]
        let vendor = try workspace.activeVendor()
        if vendor != nil {
            counts = ExcessInstances.liveCounts(try await listManaged(try workspace.activeProvider()))
        }
        return Info(enabled: enabled, vendor: vendor,
                    rules: rules.map { RuleStatus(instanceType: $0.instanceType, max: $0.max, instances: counts[$0.instanceType] ?? 0) })
    }

    public struct ClearOutcome: Equatable {
        public var removedRules: Int
        public var shutDown: [ManagedInstance]
    }

    /// Deletes every rule and shuts down every managed instance.
    public func clear() async throws -> ClearOutcome {
        let active = try activeProviderIfConfigured()
        let removed = try workspace.state().write { try $0.removeAllRules() }
        let shutDown = try await shutDownEverything(active, why: "the autoscale rules were cleared")
        return ClearOutcome(removedRules: removed, shutDown: shutDown)
    }

    public struct ToggleOutcome: Equatable {
        public var changed: Bool
        public var shutDown: [ManagedInstance]
    }

    /// Pauses autoscaling and shuts down every managed instance; rules stay.
    public func disable() async throws -> ToggleOutcome {
        let active = try activeProviderIfConfigured()
        let changed = try workspace.state().write { try $0.setEnabled(false) }
        return ToggleOutcome(changed: changed, shutDown: try await shutDownEverything(active, why: "autoscaling was disabled"))
    }

    /// Resumes autoscaling with the rules as they are.
    public func enable() throws -> ToggleOutcome {
        _ = try workspace.configuration() // a broken configuration stops every command before it changes state
        let changed = try workspace.state().write { try $0.setEnabled(true) }
        return ToggleOutcome(changed: changed, shutDown: [])
    }

    // MARK: shared steps

    /// Every instance this installation manages, from the cloud, with what state knows.
    public func listManaged(_ active: ActiveProvider) async throws -> [ManagedInstance] {
        let known = try workspace.state().read { try $0.knownResources(vendor: active.vendor) }
        return try await active.provider.list(known: known)
    }

    /// Resolved before any state changes, so a broken configuration changes nothing.
    private func activeProviderIfConfigured() throws -> ActiveProvider? {
        try workspace.activeVendor() == nil ? nil : try workspace.activeProvider()
    }

    private func shutDownEverything(_ active: ActiveProvider?, why: String) async throws -> [ManagedInstance] {
        guard let active else { return [] }
        let live = ExcessInstances.allLive(try await listManaged(active))
        try await shutDown(live, active, why: why)
        return live
    }

    /// Terminates instances and sends the runs they had back to pending; that a rule
    /// changed is no fault of the runs, so it does not use up their retries.
    private func shutDown(_ instances: [ManagedInstance], _ active: ActiveProvider, why: String) async throws {
        guard !instances.isEmpty else { return }
        let target = TerminationTarget(instances: instances)
        try await active.provider.terminate(target)
        try workspace.state().write { tx in
            let fleet = try tx.fleet(vendor: active.vendor)
            for instance in fleet where target.instanceIDs.contains(instance.id) {
                if let runID = instance.runID {
                    try tx.requeueRun(runID, why: "its instance \(instance.id) was shut down: \(why)", counts: false, maxRetries: 0)
                }
            }
            try tx.forget(target, vendor: active.vendor)
        }
    }
}
