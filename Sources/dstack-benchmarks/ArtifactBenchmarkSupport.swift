import DstackCore
import Foundation

// What the `artifact-upload` and `artifact-s3` benchmarks share: submitting runs with
// `dstack run --detach`, waiting for them in state, sampling the runner's RSS, and the
// upload figure read from the run's log.

/// Submits and follows the benchmark's runs through the CLI, reading their end in state.
struct ArtifactBenchmarkRuns {
    let dstack: String
    let environment: [String: String]
    /// Where `dstack run` runs (the run's working directory is a copy of nothing: `--no-code`).
    let directory: URL
    let state: StateStore
    /// Extra `dstack run` options before the command (an instance type, say).
    var runOptions: [String] = []

    /// `dstack run --detach --no-code OPTIONS ARGUMENTS`; the run's ID.
    func submit(_ arguments: [String]) throws -> String {
        let result = try run(dstack, ["run", "--detach", "--no-code"] + runOptions + arguments,
                             environment: environment, directory: directory)
        guard result.status == 0, let id = result.output.split(separator: "\n").map(String.init).first(where: { $0.hasPrefix("run-") }) else {
            throw BenchmarkError("dstack run failed (\(result.status)): \(result.output)")
        }
        return id
    }

    /// Waits until the run is `done`; throws with its logs when it ends otherwise.
    func waitForDone(_ id: String) throws {
        try waitUntil(timeout: 1800, interval: 0.05, "run \(id) to finish") {
            guard let run = try state.read({ try $0.run(id) }) else { return false }
            if run.status.isFinished, run.status != .done {
                throw BenchmarkError("run \(id) ended \(run.status): \(try state.read { try $0.logs(runID: id) }.map(\.text).joined())")
            }
            return run.status == .done
        }
    }

    /// The run that writes MEGABYTES of random bytes to big.bin (then `then`, a shell
    /// command), prints the time it finished, and declares big.bin its artifact. It
    /// syncs before it prints: else the kernel writes the file's gigabyte of dirty pages
    /// back during the runner's upload (timed from the print), and not during the
    /// `aws s3 cp` of the same file that follows it.
    func submitBigFile(megabytes: Int, then: String? = nil) throws -> String {
        let after = then.map { " && \($0)" } ?? ""
        return try submit(["--artifact", "big.bin", "--", "sh", "-c",
                           "dd if=/dev/urandom of=big.bin bs=1M count=\(megabytes) status=none\(after) && sync && date +%s.%N"])
    }

    /// Seconds from the time the run printed to its `artifacts: complete` log line.
    func uploadSeconds(_ id: String, context: String = "") throws -> Double {
        let logs = try state.read { try $0.logs(runID: id) }
        guard let written = logs.first(where: { $0.stream == .stdout })
                .flatMap({ Double($0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }),
              let complete = logs.first(where: { $0.text.contains("artifacts: complete") }) else {
            throw BenchmarkError("run \(id) did not upload its artifact: \(logs.map(\.text).joined())\(context)")
        }
        return complete.at.timeIntervalSince1970 - written
    }
}

/// The highest RSS of a process, sampled every 20 ms on a thread of its own until `stop()`.
final class RSSSampler: Sendable {
    private let box = LockedBox<(running: Bool, highest: Double)>((true, 0))

    init(pid: Int32) {
        let box = self.box
        Thread {
            while box.value.running {
                if let stats = try? ProcessStats.of(pid) { box.withValue { $0.highest = max($0.highest, stats.rssMiB) } }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }.start()
    }

    /// Stops sampling; the highest RSS seen, in MiB.
    func stop() -> Double {
        box.withValue { $0.running = false }
        return box.value.highest
    }
}
