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
    let log: @Sendable (String) -> Void

    init(workspace: Workspace, reconciler: Reconciler, loop: ReconcileLoop, signal: WakeSignal,
         log: @escaping @Sendable (String) -> Void) throws {
        self.workspace = workspace
        self.reconciler = reconciler
        self.loop = loop
        self.signal = signal
        self.log = log
        users = UserDirectory(state: try workspace.state(), home: workspace.home)
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

    /// The terminations a pass sent, of the instances `matching` picks (by type); or,
    /// when the pass failed, the instances state still holds that it would have taken.
    func shutdownReport(_ result: Result<Reconciler.Report, Error>, before: [FleetInstance],
                        matching: (FleetInstance) -> Bool) -> ShutdownReport {
        let candidates = before.filter(matching)
        switch result {
        case .success(let report):
            let gone = Set(report.terminated)
            let shut = candidates.filter { gone.contains($0.id) }.map { instance in
                ShutDownInstance(id: instance.id, instanceType: instance.instanceType,
                                 requeuedRun: report.requeued[instance.id])
            }
            return ShutdownReport(shutDown: shut)
        case .failure(let error):
            let pending = ((try? fleet()) ?? candidates).filter(matching).map(\.id)
            return ShutdownReport(shutDown: [], pending: pending, pendingReason: Self.sentence(error))
        }
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

    /// Settings changed: what the old account said no longer holds.
    func forget() {
        lock.withLock { facts.removeAll() }
    }
}
