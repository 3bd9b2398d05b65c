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
        /// What became of each instance shut down, and the run it had.
        public var outcomes: [InstanceShutdown.Outcome] = []
    }

    /// Adds, replaces or (with max 0) removes a rule, then shuts down the newest extra
    /// instances of that type. The provider validates the type before anything changes.
    public func allow(instanceType: String, max: Int) async throws -> AllowOutcome {
        precondition(max >= 0, "callers validate max")
        let active = try workspace.activeProvider()
        if max > 0 {
            let facts = try await active.provider.validateInstanceType(instanceType)
            // An instance whose architecture has no runner would boot only to bill.
            let settings = try workspace.configuration().providers[active.vendor] ?? [:]
            if !active.plugin.instancesRunOnThisMachine, active.plugin.runnerDownloadURL(settings) == nil,
               !runnerArchitectures.contains(facts.architecture) {
                throw RunnerDeliveryError("\(instanceType) is an \(facts.architecture) type, and "
                    + RunnerDelivery.noRunnerReason(facts.architecture, vendor: active.vendor))
            }
        }
        let state = try workspace.state()
        let previous = try state.write { try $0.setRule(instanceType, max: max) }
        let instances = try await listManaged(active)
        let busy = try state.read { tx in Set(try tx.fleet(vendor: active.vendor).filter { $0.runID != nil }.map(\.id)) }
        let excess = ExcessInstances.toShutDown(instances, instanceType: instanceType, max: max, busy: busy)
        let outcomes = try await shutDown(excess, active, listed: instances,
                                          why: max == 0 ? "the rule for \(instanceType) was removed"
                                                        : "the max for \(instanceType) was lowered to \(max)")
        return AllowOutcome(instanceType: instanceType, previousMax: previous, newMax: max, shutDown: excess, outcomes: outcomes)
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
        public var outcomes: [InstanceShutdown.Outcome] = []
    }

    /// Deletes every rule and shuts down every managed instance.
    public func clear() async throws -> ClearOutcome {
        let active = try activeProviderIfConfigured()
        let removed = try workspace.state().write { try $0.removeAllRules() }
        let (shutDown, outcomes) = try await shutDownEverything(active, why: "the autoscale rules were cleared")
        return ClearOutcome(removedRules: removed, shutDown: shutDown, outcomes: outcomes)
    }

    public struct ToggleOutcome: Equatable {
        public var changed: Bool
        public var shutDown: [ManagedInstance]
        public var outcomes: [InstanceShutdown.Outcome] = []
    }

    /// Pauses autoscaling and shuts down every managed instance; rules stay.
    public func disable() async throws -> ToggleOutcome {
        let active = try activeProviderIfConfigured()
        let changed = try workspace.state().write { try $0.setEnabled(false) }
        let (shutDown, outcomes) = try await shutDownEverything(active, why: "autoscaling was disabled")
        return ToggleOutcome(changed: changed, shutDown: shutDown, outcomes: outcomes)
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

    private func shutDownEverything(_ active: ActiveProvider?, why: String) async throws
        -> ([ManagedInstance], [InstanceShutdown.Outcome]) {
        guard let active else { return ([], []) }
        let listed = try await listManaged(active)
        let live = ExcessInstances.allLive(listed)
        return (live, try await shutDown(live, active, listed: listed, why: why))
    }

    /// Terminates instances and sends the runs they had back to pending, the way the
    /// reconciler does (journal first); that a rule changed is no fault of the runs, so
    /// it does not use up their retries.
    private func shutDown(_ instances: [ManagedInstance], _ active: ActiveProvider, listed: [ManagedInstance],
                          why: String) async throws -> [InstanceShutdown.Outcome] {
        try await InstanceShutdown.shutDown(instances, why: why, workspace: workspace, active: active, listed: listed)
    }

    /// `dstack instances terminate`: the named instances (IDs the cloud lists as live, or
    /// state knows), each run they had sent back to the queue as a retry that does not
    /// count. An ID that is neither is refused before anything changes.
    public func terminate(instanceIDs: [String]) async throws -> [InstanceShutdown.Outcome] {
        let active = try workspace.activeProvider()
        let listed = try await listManaged(active)
        let fleet = try workspace.state().read { try $0.fleet(vendor: active.vendor) }
        var chosen: [ManagedInstance] = []
        for id in instanceIDs where !chosen.contains(where: { $0.id == id }) {
            if let live = listed.first(where: { $0.id == id && $0.state.isLive }) {
                chosen.append(live)
            } else if let known = fleet.first(where: { $0.id == id }) {
                chosen.append(ManagedInstance(id: known.id, instanceType: known.instanceType, state: .terminated,
                                              spotRequestID: known.spotRequestID))
            } else {
                throw LaunchError.unknownInstance(id)
            }
        }
        return try await shutDown(chosen, active, listed: listed, why: "terminated by hand (dstack instances terminate)")
    }
}
