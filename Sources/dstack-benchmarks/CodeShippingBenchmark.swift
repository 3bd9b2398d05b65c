import DstackCore
import Foundation

// dstack-benchmarks code-shipping [RUNS] [--megabytes N] [--files N] [--dstack PATH] [--runner PATH]
//
// Time for a 50 MB git repository to reach a run's first command, on the local provider.
// Makes a git repository of FILES files of random bytes (MEGABYTES in all, default 50 MB
// in 300 files) plus marker.txt, and commits them. Configures local in a temporary
// DSTACK_HOME, `dstack autoscale allow local --max 1`, starts the release `dstack server`
// (DSTACK_RUNNER_PATH = the release `dstack-runner`) and brings the runner up with a
// `--no-code` warm-up run. Then RUNS times, one after another, in the repository:
//   - marker.txt is changed (uncommitted), so every run ships a new archive (nothing is
//     served from the store's dedup), then
//     `dstack run --detach -- sh -c 'test -f marker.txt && echo ok'` is timed from the
//     process start to the first stdout entry at the server ("ok": the first command saw
//     the files). Also reported: the `dstack run` process alone (list, pack, hash, store,
//     submit), and the runner's own "first command started … ms after the assignment
//     arrived" (download, SHA-256 check, unpack);
//   - the floor, in the same run: `git archive HEAD | tar -x -C DIR` into a fresh DIR.

func benchmarkCodeShipping(runs: Int, megabytes: Int, files fileCount: Int, dstackOverride: String?, runnerOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let runner = try siblingBinary("dstack-runner", override: runnerOverride)
    guard let git = which("git") else { throw BenchmarkError("git is not on PATH") }
    let scratch = try scratchDirectory("code-shipping")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let repo = scratch.appendingPathComponent("repo")
    try makeRandomRepository(repo, git: git, megabytes: megabytes, files: fileCount)

    let fixture = try LocalServerFixture(dstack: dstack, runner: runner, scratch: scratch)
    defer { fixture.stop() }
    let (home, environment, state) = (fixture.home, fixture.environment, fixture.state)

    /// `dstack run --detach ARGS` in the repository; the run's ID and how long the process took.
    func submit(_ arguments: [String]) throws -> (id: String, seconds: Double) {
        let result = try run(dstack, ["run", "--detach"] + arguments, environment: environment, directory: repo)
        guard result.status == 0,
              let id = result.output.split(separator: "\n").map(String.init).first(where: { $0.hasPrefix("run-") }) else {
            throw BenchmarkError("dstack run failed (\(result.status)): \(result.output)")
        }
        return (id, result.seconds)
    }

    func waitForDone(_ id: String) throws {
        try waitUntil(timeout: 300, interval: 0.01, "run \(id) to finish") {
            guard let run = try state.read({ try $0.run(id) }) else { return false }
            if run.status == .failed || run.status == .stopped {
                let log = try state.read { try $0.logs(runID: id) }.map(\.text).joined()
                throw BenchmarkError("run \(id) ended \(run.status): \(log)")
            }
            return run.status == .done
        }
    }

    try waitForDone(try submit(["--no-code", "--", "true"]).id) // warm-up: starts the runner

    var endToEnd: [Double] = []
    var cliOnly: [Double] = []
    var floor: [Double] = []
    var ids: [String] = []
    var archiveSize = 0
    for index in 0..<runs {
        try "iteration \(index)\n".write(to: repo.appendingPathComponent("marker.txt"), atomically: false, encoding: .utf8)
        Thread.sleep(forTimeInterval: 0.2)
        let startWall = Date()
        let (id, seconds) = try submit(["--", "sh", "-c", "test -f marker.txt && echo ok"])
        try waitForDone(id)
        let logs = try state.read { try $0.logs(runID: id) }
        guard let output = logs.first(where: { $0.stream == .stdout }), output.text == "ok\n" else {
            throw BenchmarkError("run \(id) did not see its files: \(logs.map(\.text).joined())")
        }
        endToEnd.append(output.at.timeIntervalSince(startWall) * 1000)
        cliOnly.append(seconds * 1000)
        ids.append(id)
        archiveSize = try state.read { try $0.run(id)?.code?.size } ?? 0

        let target = scratch.appendingPathComponent("floor-\(index)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let start = monotonicNanoseconds()
        let extracted = try run("/bin/sh", ["-c", "cd \"$1\" && git archive HEAD | tar -x -C \"$2\"", "sh", repo.path, target.path],
                                environment: ProcessInfo.processInfo.environment)
        guard extracted.status == 0 else { throw BenchmarkError("git archive | tar -x failed: \(extracted.output)") }
        floor.append(Double(monotonicNanoseconds() - start) / 1e6)
        try? FileManager.default.removeItem(at: target)
    }

    // The runner's own line: assignment reply → first command spawned (download, check, unpack).
    var runnerFigures: [Double] = []
    let instances = home.appendingPathComponent("local/instances")
    for directory in (try? FileManager.default.contentsOfDirectory(atPath: instances.path)) ?? [] {
        let text = (try? String(contentsOfFile: instances.appendingPathComponent("\(directory)/runner.log").path, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.contains("after the assignment arrived") {
            guard ids.contains(where: { line.contains("run \($0) ") }), let range = line.range(of: " ms after the assignment arrived"),
                  let number = line[..<range.lowerBound].split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            runnerFigures.append(number)
        }
    }

    func line(_ name: String, _ values: [Double]) -> String {
        guard !values.isEmpty else { return "\(name): no figures" }
        return name + String(format: ": median %.0f ms (min %.0f, max %.0f)", median(values), values.min()!, values.max()!)
    }
    print("code-shipping over \(runs) runs of a \(megabytes) MB git repository (\(fileCount) files of random bytes; archive \(ByteSize.format(archiveSize))):")
    print("  " + line("dstack run start → first command's output at the server", endToEnd))
    print("  " + line("  of which the dstack run process (list, pack, hash, store, submit)", cliOnly))
    print("  " + line("  of which the runner: assignment → first command (download, SHA-256, unpack)", runnerFigures))
    print("  " + line("floor: git archive HEAD | tar -x -C DIR", floor))
    print(String(format: "  ratio: %.1fx the floor", median(endToEnd) / median(floor)))
}

/// A git repository of `files` files of random bytes, `megabytes` in all, committed.
func makeRandomRepository(_ repo: URL, git: String, megabytes: Int, files: Int) throws {
    try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
    let perFile = megabytes * 1024 * 1024 / max(1, files)
    var generator = SystemRandomNumberGenerator()
    for index in 0..<files {
        let folder = repo.appendingPathComponent("data/d\(index % 10)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var bytes = [UInt8](repeating: 0, count: perFile)
        for offset in stride(from: 0, to: perFile, by: 8) {
            var word = generator.next()
            withUnsafeBytes(of: &word) { raw in
                for k in 0..<min(8, perFile - offset) { bytes[offset + k] = raw[k] }
            }
        }
        try Data(bytes).write(to: folder.appendingPathComponent("blob-\(index).bin"))
    }
    try "iteration -1\n".write(to: repo.appendingPathComponent("marker.txt"), atomically: false, encoding: .utf8)
    let base = ["-C", repo.path, "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    try mustRun(git, base + ["init", "-q"], environment: ProcessInfo.processInfo.environment)
    try mustRun(git, base + ["add", "."], environment: ProcessInfo.processInfo.environment)
    try mustRun(git, base + ["commit", "-qm", "benchmark data"], environment: ProcessInfo.processInfo.environment)
}
