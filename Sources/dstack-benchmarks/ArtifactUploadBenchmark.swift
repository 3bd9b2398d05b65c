import DstackCore
import Foundation

// dstack-benchmarks artifact-upload [--megabytes 1024] [--dstack PATH] [--runner PATH]
//
// The runner uploading one big artifact to the server's own store (the local provider),
// and the runner's memory while it does. Configures local in a temporary DSTACK_HOME,
// starts the release `dstack server` (DSTACK_RUNNER_PATH = the release `dstack-runner`)
// and brings the runner up with a warm-up run. Then one run writes MEGABYTES of random
// bytes (`dd if=/dev/urandom`) to big.bin, prints the time it finished, and declares
// `--artifact big.bin`. Figures:
//   - upload: from that printed time to the run's `artifacts: complete` log line at the
//     server (the runner's SHA-256 pass over the file plus the streamed PUT through the
//     runner API to DSTACK_HOME/artifacts); with the throughput;
//   - the runner's peak RSS (VmHWM, which the kernel keeps for the process's life) and
//     the highest RSS sampled every 20 ms during the upload: the goal is under 64 MB;
//   - the server's peak RSS before and after (it streams the body to disk);
//   - the floor, in the same run: `cp` of a file of the same size on the same disk.
// The S3 comparison (moto, `aws s3 cp`) is `artifact-s3` (ArtifactS3Benchmark.swift);
// both share ArtifactBenchmarkSupport.swift.

func benchmarkArtifactUpload(megabytes: Int, dstackOverride: String?, runnerOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let runner = try siblingBinary("dstack-runner", override: runnerOverride)
    let scratch = try scratchDirectory("artifact-upload")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let work = scratch.appendingPathComponent("project")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let fixture = try LocalServerFixture(dstack: dstack, runner: runner, scratch: scratch)
    defer { fixture.stop() }
    let (home, environment, state) = (fixture.home, fixture.environment, fixture.state)

    let runs = ArtifactBenchmarkRuns(dstack: dstack, environment: environment, directory: work, state: state)

    try runs.waitForDone(try runs.submit(["--", "true"])) // warm-up: starts the runner
    let instances = home.appendingPathComponent("local/instances")
    guard let instance = try FileManager.default.contentsOfDirectory(atPath: instances.path).first,
          let record = try? JSONValue.parse(String(contentsOfFile: instances.appendingPathComponent("\(instance)/instance.json").path,
                                                   encoding: .utf8)),
          let pid = record["pid"]?.intValue else {
        throw BenchmarkError("the local runner's pid is not in \(instances.path)")
    }
    let before = try ProcessStats.of(Int32(pid))
    let serverBefore = try ProcessStats.of(fixture.server.pid)

    let sampler = RSSSampler(pid: Int32(pid))
    let id = try runs.submitBigFile(megabytes: megabytes)
    try runs.waitForDone(id)
    let highest = sampler.stop()
    let after = try ProcessStats.of(Int32(pid))
    let serverAfter = try ProcessStats.of(fixture.server.pid)
    let upload = try runs.uploadSeconds(id)
    let stored = home.appendingPathComponent("artifacts/\(id)/big.bin").path
    let size = (try FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int) ?? 0

    let source = scratch.appendingPathComponent("floor.bin").path
    try mustRun("/bin/sh", ["-c", "dd if=/dev/urandom of=\"$1\" bs=1M count=\(megabytes) status=none", "sh", source],
                environment: ProcessInfo.processInfo.environment)
    let copy = try run("/bin/cp", [source, source + ".copy"], environment: ProcessInfo.processInfo.environment)
    guard copy.status == 0 else { throw BenchmarkError("cp failed: \(copy.output)") }

    let mib = Double(size) / 1_048_576
    print("artifact-upload of one \(megabytes) MiB file to the server's store (local provider):")
    print(String(format: "  upload (SHA-256 pass + streamed PUT): %.2f s = %.0f MiB/s", upload, mib / upload))
    print(String(format: "  runner peak RSS (VmHWM): %.1f MiB (%.1f MiB before the run); highest sampled RSS during it: %.1f MiB; goal < 64 MB",
                 after.peakRSSMiB, before.peakRSSMiB, highest))
    print(String(format: "  server peak RSS (VmHWM): %.1f MiB (%.1f MiB before the run): the body is streamed to disk, not held",
                 serverAfter.peakRSSMiB, serverBefore.peakRSSMiB))
    print(String(format: "  floor: cp of the same size on the same disk: %.2f s = %.0f MiB/s", copy.seconds, mib / copy.seconds))
}
