import DstackAPI
import DstackCore
import DstackWire
import Foundation
import NIOCore
import NIOPosix

// dstack-benchmarks scale [--runners 1000] [--runs 10000] [--in-flight 16] [--timeout 900] [--dstack PATH]
//
// One `dstack server` process (the built binary, its own DSTACK_HOME and port) with the
// local provider in simulated mode (`dstack local configure --simulated true`): its
// launches start no process, they record the instances and write their user data,
// and this process plays every instance's runner over the real runner API
// (SimulatedRunnerFleet). The server is started first (it writes the admin token), then
// `dstack local configure --simulated true` and `dstack autoscale allow local --max RUNNERS`.
//   1. Warm-up: RUNNERS runs are submitted; the server launches RUNNERS instances, every
//      runner registers with its launch's registration token and runs one of them. Then
//      RUNNERS registered runners are long-polling, idle.
//   2. Burst: RUNS runs are submitted at once through the API the CLI uses
//      (`POST /api/v1/runs`, a `RunSubmission` of `true` with the admin token from
//      DSTACK_HOME/admin.token, IN_FLIGHT requests at a time on as many keep-alive
//      connections), and the runners work them off: each assignment is answered with
//      one stdout line (the start report) and exit code 0.
// Figures: drain time (burst start → the last run's exit acknowledged); per run, from
// state.db, the "attempt N assigned" entry's time (stamped when the assignment is
// committed) to the runner's start report (the stdout entry, stamped on arrival), p50
// and p99, and the same to the runner receiving the assignment; the server's peak RSS
// (VmHWM) and its CPU seconds over the burst, from /proc/PID.

struct ScaleResult {
    var runners: Int
    var runs: Int
    var inFlight: Int
    var warmUpSeconds: Double
    var submitSeconds: Double
    var drainSeconds: Double
    var runsDone: Int
    var assignedToStartMs: [Double]
    var assignedToReceivedMs: [Double]
    var serverCPUSeconds: Double
    var serverPeakRSSMiB: Double
    var serverThreads: Int
    var fleetCPUSeconds: Double
}

func benchmarkScale(runners: Int, runs: Int, inFlight: Int, timeout: TimeInterval,
                    dstackOverride: String?) async throws -> ScaleResult {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let scratch = try scratchDirectory("scale")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let port = try freePort()
    let serverURL = "http://127.0.0.1:\(port)"
    let home = scratch.appendingPathComponent("home")
    let environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path, "DSTACK_SERVER_URL": serverURL])
    let server = try Child("dstack server", executable: dstack, arguments: ["server", "--port", String(port), "--idle-timeout", "30m"],
                           environment: environment, log: scratch.appendingPathComponent("server.log"))
    let fleet = SimulatedRunnerFleet(home: home)
    FileHandle.standardError.write(Data("scale: dstack server pid \(server.pid) on \(serverURL), log \(server.logURL.path)\n".utf8))
    let submitter = MultiThreadedEventLoopGroup.singleton
    do {
        try waitForServer(serverURL, server: server)
        try mustRun(dstack, ["local", "configure", "--simulated", "true"], environment: environment)
        try mustRun(dstack, ["autoscale", "allow", "local", "--max", String(runners)], environment: environment)
        guard let token = LocalServerRecord.adminToken(DstackHome(url: home)) else {
            throw BenchmarkError("the server wrote no admin token in \(home.path)")
        }
        let api = RunSubmitter(host: "127.0.0.1", port: port, token: token, group: submitter)
        let state = try StateStore(home: DstackHome(url: home))
        fleet.start()

        // 1. Warm-up: RUNNERS instances launched, registered, each run once.
        let warmUpStart = monotonicNanoseconds()
        _ = try await api.submit(count: runners, inFlight: inFlight)
        try await waitFor(timeout: max(300, timeout), "the warm-up runs to finish", server: server, fleet: fleet) {
            fleet.finishedCount >= runners
        }
        // Runners that finished their warm-up run early take runs submitted after it, so
        // the planner may launch fewer than RUNNERS instances: the rest are requested.
        // Launched instances whose runners have not registered yet count as there (the
        // max counts them, and would refuse the request).
        let listed = try JSONValue.parse(mustRun(dstack, ["instances", "list", "--json"], environment: environment))
        let live = (listed.arrayValue ?? []).filter { ["pending", "running"].contains($0["state"]?.stringValue ?? "") }.count
        let missing = runners - live
        if missing > 0 {
            try mustRun(dstack, ["instances", "request", "local", "--count", String(missing)], environment: environment)
        }
        try await waitFor(timeout: max(300, timeout), "\(runners) runners to register", server: server, fleet: fleet) {
            fleet.registered >= runners
        }
        let warmUpSeconds = Double(monotonicNanoseconds() - warmUpStart) / 1e9
        try await Task.sleep(nanoseconds: 1_000_000_000) // every runner back in its long poll
        let before = try ProcessStats.of(server.pid)
        let fleetCPUBefore = ProcessStats.ownCPUSeconds()
        let finishedBefore = fleet.finishedCount

        // 2. The burst.
        let burstStart = monotonicNanoseconds()
        let ids = try await api.submit(count: runs, inFlight: inFlight)
        let submitSeconds = Double(monotonicNanoseconds() - burstStart) / 1e9
        try await waitFor(timeout: timeout, "the \(runs) runs to finish", server: server, fleet: fleet) {
            fleet.finishedCount - finishedBefore >= runs
        }
        let drainSeconds = Double(monotonicNanoseconds() - burstStart) / 1e9
        let after = try ProcessStats.of(server.pid)
        let fleetCPU = ProcessStats.ownCPUSeconds() - fleetCPUBefore

        // The figures, from state and the runners' own records.
        let wanted = Set(ids)
        let received = Dictionary(fleet.finishedRuns.filter { wanted.contains($0.runID) }.map { ($0.runID, $0.receivedAt) },
                                  uniquingKeysWith: { first, _ in first })
        var toStart: [Double] = []
        var toReceived: [Double] = []
        var done = 0
        try state.read { tx in
            for id in ids {
                guard let run = try tx.run(id) else { continue }
                if run.status == .done { done += 1 }
                let logs = try tx.logs(runID: id)
                guard let assigned = logs.last(where: { $0.stream == .system && $0.text.contains("assigned to instance") }) else { continue }
                if let start = logs.first(where: { $0.stream == .stdout && $0.attempt == assigned.attempt }) {
                    toStart.append(start.at.timeIntervalSince(assigned.at) * 1000)
                }
                if let arrived = received[id] { toReceived.append(arrived.timeIntervalSince(assigned.at) * 1000) }
            }
        }
        fleet.stop()
        server.stop()
        await fleet.finish()
        if !fleet.errors.isEmpty {
            throw BenchmarkError("the simulated runners failed: \(fleet.errors.prefix(5).joined(separator: "; "))")
        }
        return ScaleResult(runners: runners, runs: runs, inFlight: inFlight, warmUpSeconds: warmUpSeconds, submitSeconds: submitSeconds,
                           drainSeconds: drainSeconds, runsDone: done, assignedToStartMs: toStart, assignedToReceivedMs: toReceived,
                           serverCPUSeconds: after.cpuSeconds - before.cpuSeconds, serverPeakRSSMiB: after.peakRSSMiB,
                           serverThreads: after.threads, fleetCPUSeconds: fleetCPU)
    } catch {
        fleet.stop()
        server.stop()
        await fleet.finish()
        throw BenchmarkError("\(error)\n--- server log (last lines) ---\n\(server.log.split(separator: "\n").suffix(20).joined(separator: "\n"))")
    }
}

/// Submits runs of `true` as the CLI does, through `POST /api/v1/runs` with a bearer
/// token: `inFlight` requests at a time, each on its own keep-alive connection.
struct RunSubmitter {
    var host: String
    var port: Int
    var token: String
    var group: EventLoopGroup

    /// Submits `count` runs; returns the IDs the server gave them.
    func submit(count: Int, inFlight: Int) async throws -> [String] {
        let submission = RunSubmission(workflow: nil, commands: ["true"], requirements: RequirementsPayload(), environment: [:],
                                       codeSha256: nil, codeSize: nil, wait: false)
        let body = try JSONValueEncoder.api.encode(submission)
        let next = LockedBox(0)
        let claim: @Sendable () -> Bool = {
            next.withValue { value in
                guard value < count else { return false }
                value += 1
                return true
            }
        }
        let (host, port, token, group) = (host, port, token, group)
        return try await withThrowingTaskGroup(of: [String].self) { tasks in
            for _ in 0..<min(inFlight, count) {
                tasks.addTask {
                    try await ScaleHTTPConnection.with(host: host, port: port, group: group) { connection in
                        var ids: [String] = []
                        while claim() {
                            let reply = try await connection.send(.POST, APIPaths.runs, bearer: token, json: body)
                            guard reply.status == 201, let id = try JSONValue.parse(reply.body)["id"]?.stringValue else {
                                throw BenchmarkError("POST \(APIPaths.runs) answered \(reply.status): \(reply.body)")
                            }
                            ids.append(id)
                        }
                        return ids
                    }
                }
            }
            var all: [String] = []
            for try await ids in tasks { all += ids }
            return all
        }
    }
}

/// Polls `condition` every 10 ms; fails when the server exits, a runner fails, or time runs out.
func waitFor(timeout: TimeInterval, _ what: String, server: Child, fleet: SimulatedRunnerFleet,
             _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        guard server.process.isRunning else { throw BenchmarkError("dstack server exited while waiting for \(what)") }
        if let failure = fleet.errors.first { throw BenchmarkError("a simulated runner failed: \(failure)") }
        guard Date() < deadline else {
            throw BenchmarkError("timed out after \(Int(timeout)) s waiting for \(what) (\(fleet.registered) runners registered, "
                                 + "\(fleet.finishedCount) runs finished)")
        }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}

func printScale(_ result: ScaleResult) {
    func stat(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "no values" }
        return String(format: "p50 %.1f ms, p99 %.1f ms (min %.1f, max %.1f, %d runs)", percentile(values, 0.5), percentile(values, 0.99),
                      values.min()!, values.max()!, values.count)
    }
    print("scale: \(result.runners) simulated runners long-polling one dstack server, \(result.runs) runs in one burst "
          + "(POST /api/v1/runs, \(result.inFlight) in flight)")
    print(String(format: "  warm-up (launch, register, one run each): %.1f s", result.warmUpSeconds))
    print(String(format: "  burst submitted in %.1f s; drained (every run's exit acknowledged) in %.1f s = %.0f runs/s",
                 result.submitSeconds, result.drainSeconds, Double(result.runs) / result.drainSeconds))
    print("  runs done: \(result.runsDone) of \(result.runs)")
    print("  assigned (committed) → start report at the server: " + stat(result.assignedToStartMs))
    print("  assigned (committed) → assignment received by the runner: " + stat(result.assignedToReceivedMs))
    print(String(format: "  server: peak RSS (VmHWM) %.1f MiB, CPU over the burst %.1f s (%.0f%% of one core), %d threads",
                 result.serverPeakRSSMiB, result.serverCPUSeconds, 100 * result.serverCPUSeconds / result.drainSeconds,
                 result.serverThreads))
    print(String(format: "  the simulated runners (this process): CPU over the burst %.1f s", result.fleetCPUSeconds))
    let p99 = percentile(result.assignedToStartMs, 0.99)
    print(p99 < 100 ? "goal p99 < 100 ms: met" : String(format: "goal p99 < 100 ms: MISSED (%.1f ms)", p99))
    print(result.serverPeakRSSMiB < 300 ? "goal RSS < 300 MB: met" : String(format: "goal RSS < 300 MB: MISSED (%.1f MiB)", result.serverPeakRSSMiB))
    print(result.runsDone == result.runs ? "all runs finished" : "NOT all runs finished")
}
