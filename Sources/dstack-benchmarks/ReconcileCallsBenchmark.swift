import DstackAWS
import DstackCore
import Foundation

// dstack-benchmarks reconcile-calls [N,N,...] [PASSES]
//
// EC2 API calls per steady-state reconcile, counted on the wire. For each N it starts
// its own `moto_server -H 127.0.0.1 -p PORT` and a counting proxy in front of it (every
// request forwarded unchanged, its `Action=` recorded), configures the AWS provider in a
// temporary DSTACK_HOME with endpoint_url = the proxy, and builds a real fleet through
// the real code paths:
//   1. `allow m5.large --max N`, N runs submitted, one reconcile pass: one spot request for N;
//   2. each instance's runner registers through RunnerService (the runner API's logic)
//      with the batch's registration token, as `dstack-runner` would;
//   3. a pass assigns the N runs; half of them then finish, so the fleet is N/2 busy and
//      N/2 idle, with no pending runs.
// Then one warm-up pass, and PASSES measured passes of the same Reconciler (as the
// server's loop runs them), each counted per Action. It also counts the first pass of a
// fresh Reconciler on the same state (a restarted server). moto is killed by its PID.

func benchmarkReconcileCalls(sizes: [Int], passes: Int) async throws {
    var rows: [(n: Int, steady: [[String: Int]], reported: [Int], fresh: [String: Int], seconds: [Double])] = []
    for n in sizes {
        let scratch = try scratchDirectory("calls-\(n)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let moto = try Moto(scratch: scratch)
        defer { moto.stop() }
        let proxy = try CountingProxy(upstream: moto.url)
        defer { proxy.stop() }

        let home = scratch.appendingPathComponent("home")
        let environment = ["HOME": scratch.path, "AWS_EC2_METADATA_DISABLED": "true"]
        let workspace = Workspace(home: DstackHome(url: home), registry: ProviderRegistry([AWSPlugin.plugin]), environment: environment)
        // No runner boots here (the benchmark registers instances itself); the launches
        // still carry a bootstrap that fetches a runner from a server at this URL.
        var options = ReconcilerOptions()
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.invalid:3443", runnerBinaries: ["x86_64": String(repeating: "0", count: 64)])
        try workspace.configStore.save(Configuration(activeVendor: "aws", providers: ["aws": [
            "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1", "endpoint_url": proxy.url,
        ]]))
        let state = try workspace.state()
        try state.write { tx in
            _ = try tx.setRule("m5.large", max: n)
            for index in 0..<n {
                try tx.submitRun(id: "run-\(index)", workflow: nil, commands: ["true"],
                                 requirements: ResourceRequirements(instanceType: "m5.large"))
            }
        }
        let reconciler = Reconciler(workspace: workspace, options: options)
        let launch = try await reconciler.reconcile()
        guard launch.launched["m5.large"] == n else { throw BenchmarkError("expected a launch of \(n) m5.large, got \(launch)") }

        // Register every instance as its runner would.
        let batch = try state.read { try $0.openBatches(vendor: "aws") }
        guard batch.count == 1 else { throw BenchmarkError("expected one open batch, got \(batch.count)") }
        let registration = SecureRandom.hex(32)
        try state.write { try $0.addRegistrationHash(token: batch[0].token, hash: TokenHash.sha256Hex(registration)) }
        let known = try state.read { try $0.knownResources(vendor: "aws") }
        let listed = try await workspace.activeProvider().provider.list(known: known).filter { $0.state.isLive && !$0.isUnfulfilledRequest }
        guard listed.count == n else { throw BenchmarkError("the emulator lists \(listed.count) instances, expected \(n)") }
        let service = RunnerService(workspace: workspace, signal: WakeSignal(), wakeReconciler: {})
        for instance in listed {
            _ = try await service.register(RunnerAPI.RegisterRequest(instanceID: instance.id, registrationToken: registration))
        }
        let assign = try await reconciler.reconcile()
        guard assign.assigned == n else { throw BenchmarkError("expected \(n) assignments, got \(assign)") }
        let fleet = try state.read { try $0.fleet(vendor: "aws") }
        for instance in fleet.prefix(n / 2) {
            guard let runID = instance.runID else { continue }
            let attempt = try state.read { try $0.run(runID)?.attempt } ?? 1
            try service.finish(instanceID: instance.id, runID: runID, exit: RunnerAPI.RunExit(attempt: attempt, exitCode: 0))
        }

        // Steady state: warm up once, then count.
        _ = try await reconciler.reconcile()
        var steady: [[String: Int]] = []
        var reported: [Int] = []
        var seconds: [Double] = []
        for _ in 0..<passes {
            proxy.reset()
            let start = monotonicNanoseconds()
            let report = try await reconciler.reconcile()
            seconds.append(ms(monotonicNanoseconds() - start) / 1000)
            guard report.launched.isEmpty, report.assigned == 0, report.terminated.isEmpty, report.swept.isEmpty else {
                throw BenchmarkError("the pass was not steady: \(report)")
            }
            steady.append(proxy.counts)
            if ProcessInfo.processInfo.environment["BENCH_VERBOSE"] != nil {
                for call in proxy.calls { print("  N=\(n) \(call.body.prefix(300))") }
            }
            reported.append(report.providerCalls)
        }
        let phases = try state.read { try $0.fleet(vendor: "aws") }.map(\.phase.rawValue)
        // A restarted server: a fresh Reconciler (and provider) on the same state.
        proxy.reset()
        _ = try await Reconciler(workspace: workspace, options: options).reconcile()
        let fresh = proxy.counts
        print("N=\(n): fleet \(phases.filter { $0 == "busy" }.count) busy, \(phases.filter { $0 == "idle" }.count) idle; "
              + "steady passes: \(steady.map(format)) (Report.providerCalls \(reported)); first pass of a fresh reconciler: \(format(fresh))")
        rows.append((n, steady, reported, fresh, seconds))
    }
    print("")
    print("| instances | EC2 calls per steady-state pass (by Action) | total | Report.providerCalls | pass wall time (median) | first pass after a restart |")
    print("|---|---|---|---|---|---|")
    for row in rows {
        let counts = row.steady.last ?? [:]
        print(String(format: "| %d | %@ | %d | %d | %.0f ms | %@ (%d) |", row.n, format(counts), counts.values.reduce(0, +),
                     row.reported.last ?? 0, median(row.seconds) * 1000, format(row.fresh), row.fresh.values.reduce(0, +)))
    }
    let distinct = Set(rows.flatMap { $0.steady }.map(format))
    print(distinct.count == 1 ? "the steady-state count is the same for every N and every pass"
                              : "the steady-state count differs between N or passes: \(distinct.sorted())")
}

private func format(_ counts: [String: Int]) -> String {
    counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
