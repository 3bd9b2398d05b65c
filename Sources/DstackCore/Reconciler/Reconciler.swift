import Foundation

/// One pass of the autoscaler: hold the cloud's list against state, ask the planner
/// what to do, journal each action, then call the provider. Every provider call is
/// batched: one `list` per pass, one `terminate` for all terminations, one
/// `requestSpot` per instance type. Safe to run again at any point: a launch is
/// journaled with its idempotency token before the provider is called, and a pass
/// that finds an unsent launch sends it again with the same token.
public final class Reconciler: @unchecked Sendable {
    public let workspace: Workspace
    public var options: ReconcilerOptions
    /// Called after a run is assigned, so a waiting runner's long poll answers at once.
    public var onAssignment: (@Sendable (_ instanceID: String) -> Void)?
    /// Each pass's report, told before the next pass may start (the API reads what a
    /// change's passes did).
    public var onReport: (@Sendable (Report) -> Void)?
    /// Each pass's duration in seconds and outcome, failed passes included (the server's
    /// metrics and timeline).
    public var onPassTimed: (@Sendable (TimeInterval, Result<Report, Error>) -> Void)?
    /// The cloud's list as each pass read it (the server's metrics and web page show the
    /// fleet from it rather than asking the cloud again).
    public var onCloudList: (@Sendable ([ManagedInstance]) -> Void)?
    let clock: @Sendable () -> Date
    private let lock = NSLock()
    var unavailableUntil: [String: Date] = [:]
    var factsCache: [String: InstanceTypeFacts] = [:]
    /// When each type's facts were asked for: prices go stale after `factsLifetime`.
    var factsFetchedAt: [String: Date] = [:]
    /// Spot requests dstack cancelled unfulfilled, as state holds them at this pass (it
    /// keeps them across restarts): an instance the cloud fulfils one with afterwards is
    /// terminated at once. Why a run's last request was given up is in state too.
    var cancelledRequests: Set<String> = []

    public init(workspace: Workspace, options: ReconcilerOptions = ReconcilerOptions(),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.workspace = workspace
        self.options = options
        self.clock = clock
    }

    /// What one pass did, for logs, tests and benchmarks.
    public struct Report: Sendable, Equatable {
        /// Calls of the provider's five operations (a `list` may be several API requests
        /// underneath: one per kind and page; BENCHMARKS.md counts those on the wire).
        public var providerCalls = 0
        public var launched: [String: Int] = [:]
        public var assigned = 0
        public var terminated: [String] = []
        public var swept: [String] = []
        public var retried: [String] = []
        /// The run each instance terminated this pass had, now back in the queue.
        public var requeued: [String: String] = [:]
        public var errors: [String] = []
        /// The runs each launch of this pass is for, by launch token.
        public var launchedFor: [String: [String]] = [:]
        /// The instance type of each launch of this pass, by launch token.
        public var launchedTypes: [String: String] = [:]
        /// Runs given to an instance this pass.
        public var assignments: [Plan.Assignment] = []
        /// Launch batches given up this pass, before their runners registered, with why.
        public var gaveUp: [String: String] = [:]
        /// Runs that failed this pass because their launches kept failing, with the reason.
        public var failedRuns: [String: String] = [:]
        /// Instances the cloud's list showed being taken back this pass, with the signal.
        public var interrupted: [String: String] = [:]
        /// Launches whose held spot requests were cancelled this pass, with why and what next.
        public var heldRequests: [String: String] = [:]
        /// Multipart artifact uploads aborted this pass: their runs will never complete them.
        public var abortedUploads: [String] = []
        public init() {}
    }

    /// Runs one pass. Passes never overlap, here or on another server sharing the
    /// state: a second caller waits for the first.
    public func reconcile() async throws -> Report {
        await gate.acquire()
        defer { Task { await gate.release() } }
        let started = ContinuousClock.now
        func seconds() -> TimeInterval {
            let elapsed = ContinuousClock.now - started
            return TimeInterval(elapsed.components.seconds) + TimeInterval(elapsed.components.attoseconds) / 1e18
        }
        let report: Report
        do {
            report = try await workspace.state().exclusivePass { try await pass() }
        } catch {
            onPassTimed?(seconds(), .failure(error))
            throw error
        }
        onReport?(report)
        onPassTimed?(seconds(), .success(report))
        return report
    }

    private let gate = PassGate()

    /// Runs `body` between passes, never during one: a manual launch or termination
    /// that a pass must count before it plans.
    public func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await gate.acquire()
        defer { Task { await gate.release() } }
        return try await body()
    }

    private func pass() async throws -> Report {
        var report = Report()
        let state = try workspace.state()
        let now = clock()
        guard try workspace.activeVendor() != nil else {
            try state.write { tx in
                for run in try tx.waitingRuns() {
                    try tx.setRunReason(run.id, status: .pending, reason: "no cloud provider is configured; run 'dstack <vendor> configure'")
                }
            }
            return report
        }
        let active = try workspace.activeProvider()
        let vendor = active.vendor

        try await resendUnsentLaunches(active, now: now, report: &report)
        try await resendJournaledTerminations(active, report: &report)

        let known = try state.read { try $0.knownResources(vendor: vendor) }
        report.providerCalls += 1
        let cloud = try await active.provider.list(known: known)
        onCloudList?(cloud)
        // The cost model's lifetimes; checked in a read first, so that a pass whose list
        // matches them (most passes) does not queue for the write lock.
        if try state.read({ try $0.instanceLivesNeedRecording(cloud, vendor: vendor) }) {
            try state.write { try $0.recordInstanceLives(cloud, vendor: vendor, at: now) }
        }

        try noteSpotSignals(cloud, active: active, now: now, report: &report)
        try await settleHeldRequests(cloud, active: active, now: now, report: &report)
        try await settleWithCloud(cloud, active: active, now: now, report: &report)
        try await finishInterruptedAndDrained(cloud, active: active, now: now, report: &report)
        try stopRequestedRuns(now: now)

        let input = try await plannerInput(active: active, now: now, report: &report)
        let plan = Planner.plan(input)
        try await apply(plan, active: active, cloud: cloud, now: now, report: &report)
        await abortAbandonedUploads(report: &report)
        return report
    }
}

/// Lets one reconcile pass run at a time, in arrival order.
actor PassGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}
