import DstackCore
import Foundation
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`). Counters and the pass histogram
/// move as things happen (the reconciler's and the provider's hooks); the gauges (the
/// fleet, runs by status, the queue's age, spend) are set from state and the cloud's
/// last list when a scrape asks, so they are never stale and cost nothing between scrapes.
final class ServerMetrics: CloudCallObserver, Sendable {
    let registry = PrometheusCollectorRegistry()
    private let passDuration: ValueHistogram
    private let passFailures: Counter
    /// Spot interruptions the server has seen. The spot lifecycle's work (issue 8)
    /// increments it through `recordInterruption`, or by recording an `interruption` event
    /// on the timeline (`FleetTimeline.record`), which calls it.
    private let interruptions: Counter
    /// The label sets each scrape-time gauge family had at the last scrape, so that a set
    /// no longer present (an instance gone) is removed rather than left at its last value.
    private let scraped = LockedGauges()

    static func descriptor(_ name: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "dstack", metricName: name, unitName: unit, helpText: help)
    }

    static let passDurationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    init() {
        passDuration = registry.makeValueHistogram(
            descriptor: Self.descriptor("reconcile_pass_duration", unit: "seconds", "How long each reconcile pass took, failed passes included."),
            buckets: Self.passDurationBuckets)
        passFailures = registry.makeCounter(descriptor: Self.descriptor("reconcile_pass_failures", unit: "total", "Reconcile passes that failed (the cloud or state)."))
        interruptions = registry.makeCounter(descriptor: Self.descriptor("spot_interruptions", unit: "total",
                                                                         "Spot instances the cloud took back while they ran work."))
        // Counters with labels appear once a first sample exists; these start at 0 so that
        // rate() works from the first scrape.
        for kind in ["terminated", "swept"] { _ = instanceCounter(kind, instanceType: nil) }
        _ = runsAssigned
        _ = runsRequeued
    }

    // MARK: The reconciler's hooks

    func recordPass(seconds: TimeInterval, _ result: Result<Reconciler.Report, Error>) {
        passDuration.record(seconds)
        switch result {
        case .failure: passFailures.increment()
        case .success(let report):
            for (type, count) in report.launched where count > 0 { instanceCounter("launched", instanceType: type).increment(by: Int64(count)) }
            if !report.terminated.isEmpty { instanceCounter("terminated", instanceType: nil).increment(by: Int64(report.terminated.count)) }
            if !report.swept.isEmpty { instanceCounter("swept", instanceType: nil).increment(by: Int64(report.swept.count)) }
            let assigned = max(report.assigned, report.assignments.count)
            if assigned > 0 { runsAssigned.increment(by: Int64(assigned)) }
            if !report.retried.isEmpty { runsRequeued.increment(by: Int64(report.retried.count)) }
        }
    }

    func recordInterruption() {
        interruptions.increment()
    }

    private func instanceCounter(_ kind: String, instanceType: String?) -> Counter {
        let help: String
        switch kind {
        case "launched": help = "Spot instances requested, by instance type."
        case "terminated": help = "Instances the server terminated (idle, lowered max, given up, silent runners)."
        default: help = "Instances the cloud listed as ours that state did not know, terminated by the sweep."
        }
        let descriptor = Self.descriptor("instances_\(kind)", unit: "total", help)
        if kind == "launched" { return registry.makeCounter(descriptor: descriptor, labels: [("instance_type", instanceType ?? "")]) }
        return registry.makeCounter(descriptor: descriptor)
    }

    private var runsAssigned: Counter {
        registry.makeCounter(descriptor: Self.descriptor("runs_assigned", unit: "total", "Runs given to an instance (each attempt counts)."))
    }

    private var runsRequeued: Counter {
        registry.makeCounter(descriptor: Self.descriptor("runs_requeued", unit: "total", "Runs that lost their instance and went back to the queue."))
    }

    // MARK: CloudCallObserver

    func cloudAPICall(action: String, errorCode: String?) {
        registry.makeCounter(descriptor: Self.descriptor("cloud_api_calls", unit: "total", "Requests to the cloud's API, by action."),
                             labels: [("action", action)]).increment()
        if let errorCode {
            registry.makeCounter(descriptor: Self.descriptor("cloud_api_errors", unit: "total",
                                                             "Requests the cloud's API refused or failed, by action and error code."),
                                 labels: [("action", action), ("code", errorCode)]).increment()
        }
    }

    func throttlingRetry(action: String) {
        registry.makeCounter(descriptor: Self.descriptor("cloud_throttling_retries", unit: "total",
                                                         "Requests the cloud throttled and the provider sent again after a backoff."),
                             labels: [("action", action)]).increment()
    }

    func providerOperation(_ operation: String, error: ProviderError?) {
        registry.makeCounter(descriptor: Self.descriptor("provider_operations", unit: "total",
                                                         "Calls of the provider's operations (list, request_spot, terminate, ...)."),
                             labels: [("operation", operation)]).increment()
        if let error {
            registry.makeCounter(descriptor: Self.descriptor("provider_operation_errors", unit: "total",
                                                             "Provider operations that failed, by operation and kind of error."),
                                 labels: [("operation", operation), ("error", error.kindName)]).increment()
        }
    }

    // MARK: Scrape time

    /// What the gauges show, read from state and the cloud's last list at a scrape.
    struct Reading: Sendable {
        /// (instance type, zone, state) -> count.
        var instances: [[String]: Int] = [:]
        var runsByStatus: [String: Int] = [:]
        var queueAgeSeconds: Double = 0
        /// Dollars every instance dstack ran has cost, from the cost model; nil when no
        /// price is known.
        var spendDollars: Double?
        var instancesPriced = 0
    }

    /// Sets the gauges and returns the text of every metric.
    func exposition(_ reading: Reading) -> String {
        scraped.replace(family: "instances", registry: registry, with: reading.instances.map { key, count in
            ([("instance_type", key[0]), ("zone", key[1]), ("state", key[2])], Double(count))
        }, descriptor: Self.descriptor("instances", "Instances the cloud listed at the last reconcile pass, by type, zone and state."))
        scraped.replace(family: "runs", registry: registry, with: reading.runsByStatus.map { status, count in
            ([("status", status)], Double(count))
        }, descriptor: Self.descriptor("runs", "Runs in state, by status."))
        registry.makeGauge(descriptor: Self.descriptor("queue_oldest_waiting", unit: "seconds",
                                                       "How long the oldest run still waiting for an instance has waited (0: none waits)."))
            .set(reading.queueAgeSeconds)
        registry.makeGauge(descriptor: Self.descriptor("spend", unit: "dollars",
            "What every instance dstack ran has cost, from the cost model (spot price over each instance's life, from the price history); 0 while no price is known."))
            .set(reading.spendDollars ?? 0)
        registry.makeGauge(descriptor: Self.descriptor("spend_priced_instances",
                                                       "Running instances whose price is known, so their cost is in dstack_spend_dollars."))
            .set(Double(reading.instancesPriced))
        return registry.emitToString()
    }
}

/// The gauges of each scrape-time family, by label set.
final class LockedGauges: @unchecked Sendable { // `lock` guards `families`
    private let lock = NSLock()
    private var families: [String: [[String]: Gauge]] = [:]

    func replace(family: String, registry: PrometheusCollectorRegistry, with samples: [([(String, String)], Double)],
                 descriptor: MetricNameDescriptor) {
        lock.withLock {
            var kept: [[String]: Gauge] = [:]
            for (labels, value) in samples {
                let key = labels.map { "\($0.0)=\($0.1)" }
                let gauge = families[family]?[key] ?? registry.makeGauge(descriptor: descriptor, labels: labels)
                gauge.set(value)
                kept[key] = gauge
            }
            for (key, gauge) in families[family] ?? [:] where kept[key] == nil { registry.unregisterGauge(gauge) }
            families[family] = kept
        }
    }
}
