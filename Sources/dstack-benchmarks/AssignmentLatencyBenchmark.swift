import DstackCore
import Foundation

// dstack-benchmarks assignment-latency [RUNS] [--dstack PATH] [--runner PATH]
//
// Time from assignment to the runner starting the command, on the local provider.
// Configures local in a temporary DSTACK_HOME, `dstack autoscale allow local --max 1`,
// starts the release `dstack server --idle-timeout 30m` with DSTACK_RUNNER_PATH = the
// release `dstack-runner`, and runs one warm-up run (which brings the runner up). Then
// RUNS times, one after another, `dstack run --detach -- echo hi` to the idle runner,
// waiting for each to finish. For each run it reads:
//   - the runner's own line "first command started (pid …) X ms after the assignment
//     arrived" in $DSTACK_HOME/local/instances/ID/runner.log: from the long poll's reply
//     to posix_spawn of the first command;
//   - from state.db run_logs: `at` of "[dstack] attempt 1 assigned" (stamped with the
//     reconcile pass's time) to `at` of the first stdout entry (stamped by the server when
//     the runner's chunk arrives): assignment journaled → output back at the server;
//   - and, for scale, `dstack run` start → first stdout at the server.

func benchmarkAssignmentLatency(runs: Int, dstackOverride: String?, runnerOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let runner = try siblingBinary("dstack-runner", override: runnerOverride)
    let scratch = try scratchDirectory("assign-latency")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let fixture = try LocalServerFixture(dstack: dstack, runner: runner, scratch: scratch)
    defer { fixture.stop() }
    let (home, environment, state) = (fixture.home, fixture.environment, fixture.state)

    func submitAndWait() throws -> (id: String, start: UInt64, startWall: Date) {
        let startWall = Date()
        let start = monotonicNanoseconds()
        let output = try mustRun(dstack, ["run", "--detach", "--no-code", "--", "echo", "hi"], environment: environment)
        guard let id = output.split(separator: "\n").map(String.init).first(where: { $0.hasPrefix("run-") }) else {
            throw BenchmarkError("no run ID in: \(output)")
        }
        try waitUntil(timeout: 60, interval: 0.01, "run \(id) to finish") {
            guard let run = try state.read({ try $0.run(id) }) else { return false }
            if run.status == .failed || run.status == .stopped { throw BenchmarkError("run \(id) ended \(run.status)") }
            return run.status == .done
        }
        return (id, start, startWall)
    }

    _ = try submitAndWait() // warm-up: starts the runner
    var runnerFigures: [Double] = []
    var journalToOutput: [Double] = []
    var cliToOutput: [Double] = []
    var ids: [String] = []
    for _ in 0..<runs {
        Thread.sleep(forTimeInterval: 0.2)
        let (id, _, startWall) = try submitAndWait()
        ids.append(id)
        let logs = try state.read { try $0.logs(runID: id) }
        guard let assigned = logs.first(where: { $0.stream == .system && $0.text.contains("assigned to instance") }),
              let output = logs.first(where: { $0.stream == .stdout }) else {
            throw BenchmarkError("run \(id) has no assignment or stdout entry: \(logs)")
        }
        journalToOutput.append(output.at.timeIntervalSince(assigned.at) * 1000)
        cliToOutput.append(output.at.timeIntervalSince(startWall) * 1000)
    }
    // The runner's own figures, matched by run ID.
    let instances = home.appendingPathComponent("local/instances")
    var runnerLines: [String: Double] = [:]
    for directory in (try? FileManager.default.contentsOfDirectory(atPath: instances.path)) ?? [] {
        let text = (try? String(contentsOfFile: instances.appendingPathComponent("\(directory)/runner.log").path, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.contains("after the assignment arrived") {
            guard let runRange = line.range(of: "run "), let msRange = line.range(of: " ms after the assignment arrived") else { continue }
            let runID = line[runRange.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            let number = line[..<msRange.lowerBound].split(separator: " ").last.flatMap { Double($0) }
            if let number { runnerLines[runID] = number }
        }
    }
    runnerFigures = ids.compactMap { runnerLines[$0] }
    guard runnerFigures.count == ids.count else {
        throw BenchmarkError("found the runner's latency line for \(runnerFigures.count) of \(ids.count) runs")
    }
    func line(_ name: String, _ values: [Double]) -> String {
        String(format: "%@: median %.2f ms (p90 %.2f, min %.2f, max %.2f)", name, median(values), percentile(values, 0.9),
               values.min()!, values.max()!)
    }
    print("assignment-latency over \(runs) runs on one idle local runner:")
    print("  " + line("runner: assignment reply → first command spawned", runnerFigures))
    print("  " + line("state.db: 'attempt 1 assigned' entry → first stdout entry", journalToOutput))
    print("  " + line("dstack run start → first stdout entry at the server", cliToOutput))
    print(median(runnerFigures) < 100 ? "target < 100 ms (runner's figure): met" : "target < 100 ms (runner's figure): MISSED")
    print(median(journalToOutput) < 100 ? "target < 100 ms (journal → output): met" : "target < 100 ms (journal → output): MISSED")
}
