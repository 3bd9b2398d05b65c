import Foundation

// dstack-benchmarks run-detach [RUNS] [--dstack PATH]
//
// `dstack run --detach -- true`, process spawned → process exited, with the server of its
// DSTACK_HOME already running (started in the background by the first CLI command,
// stopped with `dstack server stop` at the end). The local provider in simulated mode
// (`dstack local configure --simulated true`, `dstack autoscale allow local --max 1`), so
// a submission wakes a reconcile pass that launches no process. Three working
// directories: an empty one; the same with `--no-code`; a small project (five files,
// about 10 KB, no git). One warm-up, then RUNS of each, interleaved: median, p90, min, max.

func benchmarkRunDetach(runs: Int, dstackOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let scratch = try scratchDirectory("run-detach")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let environment = dstackEnvironment(home: scratch.appendingPathComponent("home"), extra: ["HOME": scratch.path])
    defer { _ = try? run(dstack, ["server", "stop"], environment: environment) }
    try mustRun(dstack, ["local", "configure", "--simulated", "true"], environment: environment)
    try mustRun(dstack, ["autoscale", "allow", "local", "--max", "1"], environment: environment)

    let empty = scratch.appendingPathComponent("empty")
    let project = scratch.appendingPathComponent("project")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: project.appendingPathComponent("src"), withIntermediateDirectories: true)
    let files = ["README.md": 1_000, "train.py": 3_000, "src/model.py": 4_000, "src/data.py": 2_000, "requirements.txt": 100]
    for (name, size) in files {
        try String(repeating: "# a line of the project's code\n", count: size / 31 + 1)
            .write(to: project.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    let cases: [(name: String, directory: URL, arguments: [String])] = [
        ("empty working directory", empty, ["run", "--detach", "--", "true"]),
        ("empty working directory, --no-code", empty, ["run", "--detach", "--no-code", "--", "true"]),
        ("small project (5 files, 10 KB)", project, ["run", "--detach", "--", "true"]),
    ]
    var times = Array(repeating: [Double](), count: cases.count)
    for index in 0..<(runs + 1) {
        for (caseIndex, item) in cases.enumerated() {
            let result = try timedSpawn(dstack, item.arguments, environment: environment, directory: item.directory)
            guard result.status == 0 else { throw BenchmarkError("dstack \(item.arguments.joined(separator: " ")) failed: \(result.output)") }
            if index > 0 { times[caseIndex].append(result.seconds * 1000) }
        }
    }
    print("dstack run --detach -- true, spawn → exit, with the server running (\(runs) runs each after a warm-up):")
    for (caseIndex, item) in cases.enumerated() {
        let values = times[caseIndex]
        print("  " + item.name.padding(toLength: 40, withPad: " ", startingAt: 0)
              + String(format: "median %.1f ms, p90 %.1f ms (min %.1f, max %.1f)", percentile(values, 0.5), percentile(values, 0.9),
                       values.min()!, values.max()!))
    }
    let worst = times.map { percentile($0, 0.5) }.max()!
    print(worst < 30 ? "goal median < 30 ms: met" : String(format: "goal median < 30 ms: MISSED (%.1f ms)", worst))
    print("load average at the end: \(loadAverage())")
}
