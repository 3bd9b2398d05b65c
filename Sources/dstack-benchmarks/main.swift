import DstackAWS
import DstackCore
import Foundation

// Benchmarks for the AWS provider (build with `-c release`):
//   dstack-benchmarks sigv4 [SECONDS]
//       SigV4 signatures per second of a typical EC2 request, on one thread.
//   dstack-benchmarks allow MOTO_URL DSTACK_BINARY [RUNS]                    (AllowBenchmark.swift)
//       Wall time of `dstack autoscale allow m5.xlarge --max 1` (a client of the running
//       server) next to `aws ec2 describe-instance-types --instance-types m5.xlarge` to
//       the same emulator. Median and p90 of RUNS runs of each (default 50).
// Issue 4's benchmarks (each file says exactly what it measures):
//   dstack-benchmarks planner [REPETITIONS] [INSTANCES] [RUNS,RUNS,...]     (PlannerBenchmark.swift)
//   dstack-benchmarks reconcile-calls [N,N,...] [PASSES]                      (ReconcileCallsBenchmark.swift)
//   dstack-benchmarks run-latency [RUNS] [--dstack PATH]                      (RunLatencyBenchmark.swift)
//   dstack-benchmarks assignment-latency [RUNS] [--dstack PATH] [--runner PATH] (AssignmentLatencyBenchmark.swift)
// Issue 12's:
//   dstack-benchmarks runner-cold-start [BOOTS] [--dstack PATH]              (RunnerColdStartBenchmark.swift)
//   dstack-benchmarks code-shipping [RUNS] [--megabytes N] [--files N] [--dstack PATH] [--runner PATH] (CodeShippingBenchmark.swift)
// Issue 7's:
//   dstack-benchmarks run-detach [RUNS] [--dstack PATH]                      (RunDetachBenchmark.swift)
//   dstack-benchmarks scale [--runners 1000] [--runs 10000] [--in-flight 16] [--timeout 900] [--dstack PATH] (ScaleBenchmark.swift)
// Issue 9's:
//   dstack-benchmarks artifact-upload [--megabytes 1024] [--dstack PATH] [--runner PATH] (ArtifactUploadBenchmark.swift)
//   dstack-benchmarks artifact-s3 [--megabytes 1024] [--repeat 1] [--dstack PATH]         (ArtifactS3Benchmark.swift)
// Issue 11's:
//   dstack-benchmarks page-load [LOADS] [--dstack PATH]                      (PageLoadBenchmark.swift)
// Issue 10's (a throwaway PostgreSQL 15 of their own):
//   dstack-benchmarks pass-scale [--instances 10000] [--runs 100000] [--passes 5] (PassScaleBenchmark.swift)
//   dstack-benchmarks replicas [--replicas 3] [--runs 1000] [--clients 12] [--seconds 10] [--rates 100,200] [--kills 3] [--server PATH] [--dstack PATH]
//                                                                            (ReplicasBenchmark.swift)
// run-latency and assignment-latency use the `dstack` and `dstack-runner` built next to
// this binary unless given; build all three in release into the same scratch path.

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// CPU time of this thread: the figure that does not depend on what else the machine runs.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func benchmarkSigV4(seconds: Double) {
    let signer = SigV4Signer(region: "us-east-1", service: "ec2")
    let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    let request = HTTPRequest(
        method: "POST", url: "https://ec2.us-east-1.amazonaws.com/",
        headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        body: "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance.group-id&Filter.1.Value.1=sg-0123456789abcdef0&MaxResults=1000")
    let date = Date()
    var checksum = 0
    // Warm up (and fill the signing-key cache, as a long-running process would have).
    for _ in 0..<1000 { checksum &+= signer.sign(request, credentials: credentials, at: date).headers.count }
    var count = 0
    let cpuStart = threadCPUSeconds()
    let start = now()
    let deadline = start + UInt64(seconds * 1e9)
    while now() < deadline {
        for _ in 0..<1000 { checksum &+= signer.sign(request, credentials: credentials, at: date).headers.count }
        count += 1000
    }
    let elapsed = Double(now() - start) / 1e9
    let cpu = threadCPUSeconds() - cpuStart
    print(String(format: "sigv4: %d signatures in %.2f s wall = %.0f signatures/s; %.2f s of CPU on one thread = %.0f signatures per CPU-second (checksum %d)",
                 count, elapsed, Double(count) / elapsed, cpu, Double(count) / cpu, checksum % 10))
}

@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String],
         directory: URL? = nil) throws -> (status: Int32, seconds: Double, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let start = now()
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, Double(now() - start) / 1e9, String(decoding: output, as: UTF8.self))
}

func which(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

// Sendable because `lock` guards the value: a benchmark task hands its result to the main thread.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    /// Reads and changes the value under the lock in one step.
    func withValue<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&stored) } }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let arguments = CommandLine.arguments
/// The value after `--name`, if given.
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
/// Positional argument `index` (after the subcommand), skipping `--name value` pairs.
func positional(_ index: Int) -> String? {
    var values: [String] = []
    var skip = false
    for argument in arguments.dropFirst(2) {
        if skip { skip = false; continue }
        if argument.hasPrefix("--") { skip = true; continue }
        values.append(argument)
    }
    return index < values.count ? values[index] : nil
}
func intList(_ text: String?, default fallback: [Int]) -> [Int] {
    text.map { $0.split(separator: ",").compactMap { Int($0) } } ?? fallback
}
/// Runs an async benchmark on a detached task (a plain Task here would inherit the main
/// actor, whose thread waits) and waits for its result.
func waitForDetached<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let outcome = LockedBox<Result<T, Error>?>(nil)
    Task.detached {
        do { outcome.value = .success(try await body()) } catch { outcome.value = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.value!.get()
}
do {
    switch arguments.dropFirst().first {
    case "planner":
        benchmarkPlanner(repetitions: positional(0).flatMap { Int($0) } ?? 9, instances: positional(1).flatMap { Int($0) } ?? 10_000,
                         runCounts: intList(positional(2), default: [1_000, 10_000, 100_000]))
    case "reconcile-calls":
        let sizes = intList(positional(0), default: [1, 10, 50])
        let passes = positional(1).flatMap { Int($0) } ?? 3
        let done = DispatchSemaphore(value: 0)
        let failure = LockedBox<Error?>(nil)
        Task {
            do { try await benchmarkReconcileCalls(sizes: sizes, passes: passes) } catch { failure.value = error }
            done.signal()
        }
        done.wait()
        if let error = failure.value { throw error }
    case "run-latency":
        try benchmarkRunLatency(runs: positional(0).flatMap { Int($0) } ?? 20, dstackOverride: option("--dstack"))
    case "assignment-latency":
        try benchmarkAssignmentLatency(runs: positional(0).flatMap { Int($0) } ?? 20, dstackOverride: option("--dstack"),
                                       runnerOverride: option("--runner"))
    case "runner-cold-start":
        try benchmarkRunnerColdStart(boots: positional(0).flatMap { Int($0) } ?? 3, dstackOverride: option("--dstack"))
    case "code-shipping":
        try benchmarkCodeShipping(runs: positional(0).flatMap { Int($0) } ?? 5, megabytes: option("--megabytes").flatMap { Int($0) } ?? 50,
                                  files: option("--files").flatMap { Int($0) } ?? 300, dstackOverride: option("--dstack"),
                                  runnerOverride: option("--runner"))
    case "scale":
        let runners = option("--runners").flatMap { Int($0) } ?? 1_000
        let runs = option("--runs").flatMap { Int($0) } ?? 10_000
        let timeout = option("--timeout").flatMap { Double($0) } ?? 900
        let inFlight = option("--in-flight").flatMap { Int($0) } ?? 16
        guard runners > 0, runs > 0, inFlight > 0 else {
            throw BenchmarkError("--runners, --runs and --in-flight must be positive")
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedBox<Result<ScaleResult, Error>?>(nil)
        // Detached: a plain Task here would inherit the main actor, whose thread waits below.
        Task.detached {
            do { outcome.value = .success(try await benchmarkScale(runners: runners, runs: runs, inFlight: inFlight, timeout: timeout,
                                                                  dstackOverride: option("--dstack"))) }
            catch { outcome.value = .failure(error) }
            done.signal()
        }
        done.wait()
        let result = try outcome.value!.get()
        printScale(result)
        if result.runsDone != result.runs { exit(1) }
    case "pass-scale":
        let instances = option("--instances").flatMap { Int($0) } ?? 10_000
        let runs = option("--runs").flatMap { Int($0) } ?? 100_000
        let passes = option("--passes").flatMap { Int($0) } ?? 5
        guard instances > 0, runs >= instances, passes > 0 else {
            throw BenchmarkError("--instances and --passes must be positive and --runs at least --instances")
        }
        let result = try waitForDetached { try await benchmarkPassScale(instances: instances, runs: runs, passes: passes) }
        printPassScale(result)
    case "replicas":
        let replicas = option("--replicas").flatMap { Int($0) } ?? 3
        let runs = option("--runs").flatMap { Int($0) } ?? 1_000
        let clients = option("--clients").flatMap { Int($0) } ?? 12
        let seconds = option("--seconds").flatMap { Double($0) } ?? 10
        let kills = option("--kills").flatMap { Int($0) } ?? 3
        let rateList = option("--rates") ?? "100,200"
        let rates = rateList.split(separator: ",").compactMap { Double($0) }
        guard replicas > 1, runs >= 0, clients > 0, seconds > 1, kills >= 0,
              rates.count == rateList.split(separator: ",").count, rates.allSatisfy({ $0 > 0 }) else {
            throw BenchmarkError("--replicas must be at least 2, --clients positive, --seconds above 1 (the first second is a warm-up) and --rates submissions a second above 0, comma-separated")
        }
        let result = try waitForDetached {
            try await benchmarkReplicas(replicaCount: replicas, runs: runs, clients: clients, seconds: seconds, rates: rates, kills: kills,
                                        serverOverride: option("--server"), dstackOverride: option("--dstack"))
        }
        printReplicas(result)
    case "artifact-upload":
        try benchmarkArtifactUpload(megabytes: option("--megabytes").flatMap { Int($0) } ?? 1024, dstackOverride: option("--dstack"),
                                    runnerOverride: option("--runner"))
    case "artifact-s3":
        try benchmarkArtifactS3(megabytes: option("--megabytes").flatMap { Int($0) } ?? 1024,
                                repetitions: option("--repeat").flatMap { Int($0) } ?? 1, dstackOverride: option("--dstack"))
    case "sigv4":
        benchmarkSigV4(seconds: arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3)
    case "allow" where arguments.count >= 4:
        try benchmarkAllow(moto: arguments[2], dstack: arguments[3], runs: arguments.count > 4 ? Int(arguments[4]) ?? 50 : 50)
    case "run-detach":
        try benchmarkRunDetach(runs: positional(0).flatMap { Int($0) } ?? 50, dstackOverride: option("--dstack"))
    case "page-load":
        try benchmarkPageLoad(loads: positional(0).flatMap { Int($0) } ?? 20, dstackOverride: option("--dstack"))
    default:
        print("""
            usage: dstack-benchmarks sigv4 [SECONDS]
                   dstack-benchmarks allow MOTO_URL DSTACK_BINARY [RUNS]
                   dstack-benchmarks planner [REPETITIONS] [INSTANCES] [RUNS,RUNS,...]
                   dstack-benchmarks reconcile-calls [N,N,...] [PASSES]
                   dstack-benchmarks run-latency [RUNS] [--dstack PATH]
                   dstack-benchmarks assignment-latency [RUNS] [--dstack PATH] [--runner PATH]
                   dstack-benchmarks runner-cold-start [BOOTS] [--dstack PATH]
                   dstack-benchmarks code-shipping [RUNS] [--megabytes N] [--files N] [--dstack PATH] [--runner PATH]
                   dstack-benchmarks run-detach [RUNS] [--dstack PATH]
                   dstack-benchmarks artifact-upload [--megabytes 1024] [--dstack PATH] [--runner PATH]
                   dstack-benchmarks page-load [LOADS] [--dstack PATH]
                   dstack-benchmarks artifact-s3 [--megabytes 1024] [--repeat 1] [--dstack PATH]
                   dstack-benchmarks scale [--runners 1000] [--runs 10000] [--in-flight 16] [--timeout 900] [--dstack PATH]
                   dstack-benchmarks pass-scale [--instances 10000] [--runs 100000] [--passes 5]
                   dstack-benchmarks replicas [--replicas 3] [--runs 1000] [--clients 12] [--seconds 10] [--rates 100,200] [--kills 3] [--server PATH] [--dstack PATH]
            """)
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("dstack-benchmarks: \(error)\n".utf8))
    exit(1)
}
