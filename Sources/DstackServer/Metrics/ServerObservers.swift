import DstackCore
import Foundation

/// What the server watches besides its API: the metrics, the cloud's last list and the
/// fleet's timeline, fed by the reconciler's, the runner service's and the provider's
/// hooks. The page and `/metrics` read them; nothing here calls the cloud.
final class ServerObservers: Sendable {
    let metrics = ServerMetrics()
    let cloudList = LastCloudList()
    let timeline: FleetTimeline

    init(workspace: Workspace) {
        timeline = FleetTimeline(workspace: workspace, metrics: metrics)
    }

    /// Sets the hooks. The reconciler's run inside its pass, after the pass's own writes.
    func attach(reconciler: Reconciler, workspace: Workspace) {
        workspace.callObserver = metrics
        let metrics = self.metrics, cloudList = self.cloudList, timeline = self.timeline
        reconciler.onCloudList = { cloudList.set($0) }
        reconciler.onPassTimed = { seconds, result in
            metrics.recordPass(seconds: seconds, result)
            timeline.record(result)
        }
    }

    func attach(runnerService: RunnerService) {
        let timeline = self.timeline
        runnerService.onRegistered = { instanceID, instanceType, token in
            timeline.record([FleetEventRecord(at: Date(), kind: FleetEventRecord.Kind.fulfilment.rawValue, subject: instanceID,
                                              detail: "its runner registered (\(instanceType), launch \(token))")])
        }
        runnerService.onInterrupted = { instanceID, signal in
            timeline.record([FleetEventRecord(at: Date(), kind: FleetEventRecord.Kind.interruption.rawValue, subject: instanceID,
                                              detail: signal)])
        }
    }
}

/// The cloud's list as the last reconcile pass read it, with a version that changes
/// only when what it lists does (the page's live updates compare it).
final class LastCloudList: @unchecked Sendable { // `lock` guards every property
    private let lock = NSLock()
    private var instances: [ManagedInstance]?
    private var listedAt: Date?
    private var version = 0

    func set(_ listed: [ManagedInstance], at now: Date = Date()) {
        lock.withLock {
            if instances != listed { version += 1 }
            instances = listed
            listedAt = now
        }
    }

    /// The instances and when they were listed; nil before the first pass listed them.
    func read() -> (instances: [ManagedInstance], at: Date)? {
        lock.withLock { instances.map { ($0, listedAt ?? Date()) } }
    }

    var changeVersion: Int { lock.withLock { version } }
}
