import DstackAPI
import DstackCore
import Foundation

/// What the `/api/v1` routes do, apart from HTTP: the one writer of the state and the one
/// caller of the cloud. Every change that should show at once (a lowered max, `disable`,
/// `clear`) runs a reconcile pass before it answers, so the terminations it reports are
/// the ones that pass sent; only the planner decides which instances go.
final class ControlPlane: Sendable {
    let workspace: Workspace
    let reconciler: Reconciler
    let loop: ReconcileLoop
    let signal: WakeSignal
    let users: UserDirectory
    let offerings = OfferingsCache()
    /// Every pass's report, the loop's own included: a change's terminations may be made
    /// by a loop pass that ran between the change and the pass the API asked for.
    let passes = PassHistory()
    /// Where runs' artifacts are and how to reach them (shared with the runner routes).
    let artifacts: ArtifactService
    /// Metrics, the cloud's last list and the timeline (Metrics/, Web/).
    let observers: ServerObservers
    /// Whether this server leads the servers sharing its state (for the health route).
    let isLeader: @Sendable () -> Bool

    init(workspace: Workspace, reconciler: Reconciler, loop: ReconcileLoop, signal: WakeSignal,
         artifacts: ArtifactService? = nil, isLeader: @escaping @Sendable () -> Bool = { true }) throws {
        self.isLeader = isLeader
        self.workspace = workspace
        self.artifacts = artifacts ?? ArtifactService(workspace: workspace)
        self.reconciler = reconciler
        self.loop = loop
        self.signal = signal
        users = UserDirectory(state: try workspace.state(), home: workspace.home)
        observers = ServerObservers(workspace: workspace)
        let passes = self.passes
        reconciler.onReport = { passes.record($0) }
        observers.attach(reconciler: reconciler, workspace: workspace)
    }

    /// `GET /api/v1/health`: this server answers; whether it leads; whether its database
    /// answers now (a blocking query, off the event loops).
    func health() async -> HealthReply {
        let state = try? workspace.state()
        let reachable = (try? await BlockingWork.run { state?.isReachable() ?? false }) ?? false
        return HealthReply(status: "ok", version: DstackVersion.current, leader: isLeader(), database: reachable ? "ok" : "unreachable")
    }

    /// Runs a pass now (after the one in flight, if any) and reports it in the log as
    /// the loop's own passes are.
    func passNow() async -> Result<Reconciler.Report, Error> {
        let result: Result<Reconciler.Report, Error>
        do {
            result = .success(try await reconciler.reconcile())
        } catch {
            result = .failure(error)
        }
        loop.onPass?(result)
        return result
    }

    /// The terminations the passes since `mark` sent, of the instances `matching` picks;
    /// and, when the last pass failed, the instances state still holds that it would
    /// have taken.
    func shutdownReport(_ result: Result<Reconciler.Report, Error>, since mark: Int, before: [FleetInstance],
                        matching: (FleetInstance) -> Bool) -> ShutdownReport {
        let candidates = before.filter(matching)
        let reports = passes.reports(since: mark)
        let gone = Set(reports.flatMap(\.terminated))
        var requeued: [String: String] = [:]
        for report in reports { requeued.merge(report.requeued) { _, last in last } }
        let shut = candidates.filter { gone.contains($0.id) }.map { instance in
            ShutDownInstance(id: instance.id, instanceType: instance.instanceType, requeuedRun: requeued[instance.id])
        }
        guard case .failure(let error) = result else { return ShutdownReport(shutDown: shut) }
        let pending = ((try? fleet()) ?? candidates).filter(matching).map(\.id).filter { !gone.contains($0) }
        return ShutdownReport(shutDown: shut, pending: pending, pendingReason: Self.sentence(error))
    }

    static func sentence(_ error: Error) -> String {
        if let error = error as? ProviderError { return error.userMessage }
        return String(describing: error)
    }

    /// The instances state knows for the active vendor (none when none is configured).
    func fleet() throws -> [FleetInstance] {
        guard let vendor = try workspace.activeVendor() else { return [] }
        return try workspace.state().read { try $0.fleet(vendor: vendor) }
    }
}

/// The account's answers to "is this a spot type here, and what is it", kept for up to
/// 10 minutes so that `allow` and `run` do not ask the cloud each time (the issue's
/// "cached list of the account's offerings").
final class OfferingsCache: @unchecked Sendable { // `lock` guards `facts`
    static let maxAge: TimeInterval = 600
    private let lock = NSLock()
    private var facts: [String: (InstanceTypeFacts, Date)] = [:]

    func facts(vendor: String, instanceType: String, provider: any CloudProvider, now: Date = Date()) async throws
        -> InstanceTypeFacts {
        let key = vendor + "\u{0}" + instanceType
        if let (known, at) = lock.withLock({ facts[key] }), now.timeIntervalSince(at) < Self.maxAge { return known }
        let fresh = try await provider.validateInstanceType(instanceType)
        lock.withLock { facts[key] = (fresh, now) }
        return fresh
    }

    /// What the cache holds for a type, without asking the cloud (the page's prices).
    func known(vendor: String, instanceType: String) -> InstanceTypeFacts? {
        lock.withLock { facts[vendor + "\u{0}" + instanceType]?.0 }
    }

    /// Settings changed: what the old account said no longer holds.
    func forget() {
        lock.withLock { facts.removeAll() }
    }
}

/// The reports of the reconcile passes that succeeded, numbered, the latest few kept.
final class PassHistory: @unchecked Sendable { // `lock` guards `count` and `kept`
    private let lock = NSLock()
    private var count = 0
    private var kept: [(number: Int, report: Reconciler.Report)] = []
    private let limit = 64

    /// The number the next pass will get: passes from here on are "since" it.
    func mark() -> Int { lock.withLock { count } }

    func record(_ report: Reconciler.Report) {
        lock.withLock {
            kept.append((count, report))
            if kept.count > limit { kept.removeFirst(kept.count - limit) }
            count += 1
        }
    }

    func reports(since mark: Int) -> [Reconciler.Report] {
        lock.withLock { kept.filter { $0.number >= mark }.map(\.report) }
    }
}
