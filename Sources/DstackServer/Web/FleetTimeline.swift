import DstackCore
import Foundation

/// The fleet's timeline: what each reconcile pass did (launches, terminations, sweeps,
/// requeues, given-up launches, failed runs), runners registering (fulfilments), and
/// passes the cloud failed, as rows of the `events` table. The rows come from the pass's
/// report, which names each journaled action, so the reconciler itself records nothing.
///
/// Interruptions: the spot lifecycle's work (issue 8) records them here as events of
/// kind `interruption` (a line in `events(from:)` for what its report names, or a direct
/// `record`), and `record` counts them in `dstack_spot_interruptions_total`.
final class FleetTimeline: @unchecked Sendable { // `lock` guards `lastFailure`
    let workspace: Workspace
    let metrics: ServerMetrics
    private let lock = NSLock()
    private var lastFailure: (sentence: String, at: Date)?
    /// A cloud failing the same way every pass is one event per this many seconds.
    static let repeatedFailureInterval: TimeInterval = 300

    init(workspace: Workspace, metrics: ServerMetrics) {
        self.workspace = workspace
        self.metrics = metrics
    }

    func record(_ result: Result<Reconciler.Report, Error>, at now: Date = Date()) {
        switch result {
        case .success(let report):
            record(Self.events(from: report, at: now))
        case .failure(let error):
            let sentence = (error as? ProviderError)?.userMessage ?? String(describing: error)
            let isNew: Bool = lock.withLock {
                if let last = lastFailure, last.sentence == sentence, now.timeIntervalSince(last.at) < Self.repeatedFailureInterval {
                    return false
                }
                lastFailure = (sentence, now)
                return true
            }
            if isNew {
                record([FleetEventRecord(at: now, kind: FleetEventRecord.Kind.cloudFailure.rawValue, subject: "reconcile pass",
                                         detail: sentence)])
            }
        }
    }

    /// Stores the events; the timeline is for people, so a state that refuses the write
    /// loses them rather than failing the pass.
    func record(_ events: [FleetEventRecord]) {
        guard !events.isEmpty else { return }
        for event in events where event.kind == FleetEventRecord.Kind.interruption.rawValue { metrics.recordInterruption() }
        try? workspace.state().write { try $0.appendEvents(events) }
    }

    static func events(from report: Reconciler.Report, at now: Date) -> [FleetEventRecord] {
        typealias Kind = FleetEventRecord.Kind
        func event(_ kind: Kind, _ subject: String, _ detail: String, runs: [String] = [], shared: String? = nil) -> FleetEventRecord {
            FleetEventRecord(at: now, kind: kind.rawValue, subject: subject, detail: detail, runs: runs, sharedDetail: shared)
        }
        var events: [FleetEventRecord] = []
        var described: [String: Int] = [:]
        for token in report.launchedFor.keys.sorted() {
            let runs = report.launchedFor[token] ?? []
            let type = report.launchedTypes[token] ?? "?"
            described[type, default: 0] += runs.count
            let requested = "requested \(runs.count) \(type)"
            events.append(event(.launch, token, requested + (runs.isEmpty ? "" : " for \(runs.joined(separator: ", "))"),
                                runs: runs, shared: requested))
        }
        for (type, count) in report.launched.sorted(by: { $0.key < $1.key }) where count > described[type, default: 0] {
            events.append(event(.launch, type, "requested \(count - described[type, default: 0]) \(type)"))
        }
        for id in report.terminated {
            if let run = report.requeued[id] {
                events.append(event(.termination, id, "terminated; its run \(run) went back to the queue", runs: [run], shared: "terminated"))
            } else {
                events.append(event(.termination, id, "terminated"))
            }
        }
        // Seen from the cloud's side (a spot request's status, an instance's state reason);
        // a runner's own notice is recorded when it arrives (ServerObservers).
        for (id, signal) in report.interrupted.sorted(by: { $0.key < $1.key }) { events.append(event(.interruption, id, signal)) }
        for (token, why) in report.heldRequests.sorted(by: { $0.key < $1.key }) { events.append(event(.cloudFailure, token, why)) }
        for id in report.swept { events.append(event(.sweep, id, "listed as ours but unknown to state: terminated")) }
        for run in report.retried { events.append(event(.requeue, run, "back in the queue: it lost its instance", runs: [run])) }
        for token in report.gaveUp.keys.sorted() { events.append(event(.gaveUp, token, report.gaveUp[token] ?? "")) }
        for run in report.failedRuns.keys.sorted() { events.append(event(.runFailed, run, report.failedRuns[run] ?? "", runs: [run])) }
        for error in report.errors { events.append(event(.cloudFailure, "reconcile pass", error)) }
        return events
    }
}
