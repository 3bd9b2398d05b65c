import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Artifacts end to end on the local provider (the server's own store): a `train` →
/// `evaluate` pipeline through deps, downloads that match byte for byte and resume,
/// paths that never leave the working directory, and what an incomplete run says.
final class ArtifactsEndToEndTests: CLITestCase {
    /// On whichever backend the test runs (make test reruns it on Postgres): the server
    /// keeps its state where the configuring commands put it.
    private func startLocalServer(_ arguments: String..., port: Int? = nil) throws -> ServerProcess {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        return try startServer(arguments: arguments, port: port)
    }

    private func write(_ path: String, _ text: String) throws {
        let url = workingDirectory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    private func scratch(_ name: String) -> URL {
        let url = home.deletingLastPathComponent().appendingPathComponent("\(name)-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func artifacts(_ run: String) throws -> JSONValue {
        try JSONValue.parse(try ok("artifacts", "list", run, "--json"))
    }

    private func runID(_ result: CommandResult) -> String {
        String(result.stdout.split(separator: "\n").first ?? "")
    }

    /// `seq 1 N`, as the train workflow writes it: the test knows every byte.
    private func sequence(_ count: Int) -> Data {
        Data((1...count).map { "\($0)\n" }.joined().utf8)
    }

    private static let pipeline = """
        workflows:
          - name: train
            commands:
              - mkdir -p checkpoints/epoch-1
              - seq 1 200000 > checkpoints/model.bin
              - echo 'epoch 1' > checkpoints/epoch-1/notes.txt
              - echo '{"loss":0.25}' > metrics.json
            artifacts:
              - checkpoints
              - path: metrics.json
          - name: evaluate
            deps:
              - workflow: train
            commands:
              - test "$(seq 1 200000 | sha256sum)" = "$(sha256sum < checkpoints/model.bin)" && echo model-intact
              - cat metrics.json checkpoints/epoch-1/notes.txt
              - echo evaluated > report.txt
            artifacts: [report.txt]
        """

    func testTrainThenEvaluateThroughDepsAndTheDownloadMatchesByteForByte() throws {
        _ = try startLocalServer()
        try write(".dstack/workflows.yaml", Self.pipeline)

        let train = try dstack("run", "train")
        XCTAssertEqual(train.status, 0, train.description)
        XCTAssertTrue(train.stderr.contains("[dstack] artifacts: complete (3 files"), train.stderr)
        let trainID = runID(train)
        let list = try artifacts(trainID)
        XCTAssertEqual(list["state"]?.stringValue, "complete")
        XCTAssertEqual(list["location"]?.stringValue, "server")
        XCTAssertEqual(list["files"]?.arrayValue?.compactMap { $0["path"]?.stringValue },
                       ["checkpoints/epoch-1/notes.txt", "checkpoints/model.bin", "metrics.json"])
        let summary = try XCTUnwrap(try run(trainID)?["artifacts"])
        XCTAssertEqual(summary["count"]?.intValue, 3)
        XCTAssertEqual(summary["size"]?.intValue, Int64(sequence(200000).count + "epoch 1\n".utf8.count + "{\"loss\":0.25}\n".utf8.count))
        let table = try ok("ps")
        XCTAssertTrue(table.contains("ARTIFACTS") && table.contains("3 (1.2 MB)"), table)

        let evaluate = try dstack("run", "evaluate")
        XCTAssertEqual(evaluate.status, 0, evaluate.description)
        XCTAssertTrue(evaluate.stdout.contains("model-intact\n{\"loss\":0.25}\nepoch 1\n"), evaluate.stdout)
        XCTAssertTrue(evaluate.stderr.contains("[dstack] deps: 3 file(s)"), evaluate.stderr)
        XCTAssertTrue(evaluate.stderr.contains("from \(trainID)"), evaluate.stderr)

        let target = scratch("download")
        let download = try dstack("artifacts", "download", trainID, target.path)
        XCTAssertEqual(download.status, 0, download.description)
        XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent("checkpoints/model.bin")), sequence(200000))
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("metrics.json"), encoding: .utf8), "{\"loss\":0.25}\n")
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("checkpoints/epoch-1/notes.txt"), encoding: .utf8), "epoch 1\n")
        XCTAssertTrue(download.stdout.contains("downloaded checkpoints/model.bin"), download.stdout)

        let again = try dstack("artifacts", "download", trainID, target.path)
        XCTAssertEqual(again.status, 0, again.description)
        XCTAssertTrue(again.stdout.contains("already there checkpoints/model.bin"), again.stdout)

        // One file only; then an interrupted download resumes from its partial file,
        // and a corrupt partial one is fetched again whole.
        let resumed = scratch("resumed")
        let model = sequence(200000)
        try FileManager.default.createDirectory(at: resumed.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        try model.prefix(500_000).write(to: resumed.appendingPathComponent("checkpoints/model.bin.dstack-partial"))
        XCTAssertEqual(try dstack("artifacts", "download", trainID, "--path", "checkpoints/model.bin", resumed.path).status, 0)
        XCTAssertEqual(try Data(contentsOf: resumed.appendingPathComponent("checkpoints/model.bin")), model)
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed.appendingPathComponent("checkpoints/model.bin.dstack-partial").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: resumed.path), ["checkpoints"], "--path takes only that file")
        try FileManager.default.removeItem(at: resumed.appendingPathComponent("checkpoints/model.bin"))
        try Data(repeating: 0x58, count: 300_000).write(to: resumed.appendingPathComponent("checkpoints/model.bin.dstack-partial"))
        XCTAssertEqual(try dstack("artifacts", "download", trainID, "--path", "checkpoints", resumed.path).status, 0)
        XCTAssertEqual(try Data(contentsOf: resumed.appendingPathComponent("checkpoints/model.bin")), model)

        // A symlink in DIR is never written through.
        let trap = scratch("trap")
        let elsewhere = scratch("elsewhere")
        try FileManager.default.createDirectory(at: trap, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: trap.appendingPathComponent("checkpoints"), withDestinationURL: elsewhere)
        try fails(["artifacts", "download", trainID, "--path", "checkpoints", trap.path], saying: "is in the way: it is not a directory")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path), [])
    }

    func testPathEscapesAreRefusedAndASymlinkToEtcIsSkipped() throws {
        _ = try startLocalServer()
        try write(".dstack/workflows.yaml", "workflows:\n  - name: w\n    commands: [x]\n    artifacts:\n      - out\n      - /etc/passwd\n")
        try fails(["run", "w"], saying: "dstack: .dstack/workflows.yaml:6: artifacts: '/etc/passwd' is an absolute path")
        try write(".dstack/workflows.yaml", "workflows:\n  - name: w\n    commands: [x]\n    artifacts: [../secrets]\n")
        try fails(["run", "w"], saying: ".dstack/workflows.yaml:4: artifacts: '../secrets' contains '..'")
        let flag = try dstack("run", "--artifact", "out/../../x", "--", "true")
        XCTAssertEqual(flag.status, 2, flag.description)
        XCTAssertTrue(flag.stderr.contains("--artifact: 'out/../../x' contains '..'"), flag.stderr)
        XCTAssertEqual(try ok("ps", "--all", "--json"), "[]\n", "nothing was queued")

        try FileManager.default.removeItem(at: workingDirectory.appendingPathComponent(".dstack"))
        let result = try dstack("run", "--artifact", "out", "--artifact", "missing", "--", "sh", "-c",
                                "mkdir out && echo ok > out/ok.txt && ln -s /etc out/etc && ln -s /etc/passwd out/passwd; exit 3")
        XCTAssertEqual(result.status, 3, "the run ends with its own exit code: \(result)")
        XCTAssertTrue(result.stderr.contains("[dstack] artifact 'out/etc' resolves to /etc, outside the working directory; skipped"), result.stderr)
        XCTAssertTrue(result.stderr.contains("[dstack] artifact 'out/passwd' resolves to /etc/passwd, outside the working directory; skipped"),
                      result.stderr)
        XCTAssertTrue(result.stderr.contains("[dstack] artifact 'missing' does not exist; nothing was uploaded for it"), result.stderr)
        XCTAssertTrue(result.stderr.contains("[dstack] artifacts: complete (1 file, 3 B)"), result.stderr)
        let list = try artifacts(runID(result))
        XCTAssertEqual(list["files"]?.arrayValue?.compactMap { $0["path"]?.stringValue }, ["out/ok.txt"])
        let stored = home.appendingPathComponent("artifacts/\(runID(result))")
        XCTAssertEqual(FileManager.default.subpaths(atPath: stored.path)?.sorted(), ["out", "out/ok.txt"], "nothing from /etc is stored")
    }

    func testIncompleteOrMissingArtifactsAreNeverDownloadedNorUsedAsDeps() throws {
        _ = try startLocalServer()
        let stopped = try ok("run", "--detach", "--artifact", "out", "--", "sh", "-c", "mkdir out; echo x > out/x; sleep 60")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try eventually("the run to start") { try status(stopped) == "running" }
        try ok("stop", stopped)
        try eventually("the run to stop") { try status(stopped) == "stopped" }
        let summary = try XCTUnwrap(try run(stopped)?["artifacts"])
        XCTAssertEqual(summary["state"]?.stringValue, "incomplete")
        XCTAssertEqual(summary["reason"]?.stringValue, "the run was stopped, and a stopped run uploads nothing")

        let target = scratch("nothing")
        try fails(["artifacts", "download", stopped, target.path],
                  saying: "the artifacts of run \(stopped) are incomplete (the run was stopped, and a stopped run uploads nothing)")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: target.path)) ?? [], [])
        try fails(["run", "--dep-run", stopped, "--", "true"], saying: "cannot be a dep")
        try fails(["run", "--dep-workflow", "never-ran", "--", "true"], saying: "no run of workflow 'never-ran' has succeeded")

        let complete = runID(try dstack("run", "--artifact", "a.txt", "--", "sh", "-c", "echo a > a.txt"))
        try fails(["artifacts", "download", complete, "--path", "b.txt", target.path], saying: "run \(complete) has no artifact b.txt")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: target.path)) ?? [], [])
        XCTAssertTrue(try ok("artifacts", "list", complete).contains("artifacts complete, 1 file, 2 B on the server"))
    }

    /// A fault proxy in front of the server, as the runners see it, fails 30% of the
    /// artifact upload requests (503s, requests dropped, replies lost after the server
    /// stored the file): the uploads still complete and every checksum matches.
    func testUploadsCompleteThroughAProxyFailing30PercentOfUploadRequests() throws {
        let port = try LocalPort.free()
        let seed = SeededFaults(seed: 0x5eed)
        let proxy = try FaultProxy(upstream: "http://127.0.0.1:\(port)") { request, _ in
            guard request.path.contains("/artifacts/") else { return .none }
            return seed.next()
        }
        defer { proxy.stop() }
        _ = try startLocalServer("--advertise-url", proxy.url, port: port)
        var script = "mkdir -p out"
        for index in 0..<12 { script += " && head -c \(index * 37_000 + 1) /dev/urandom > out/f\(index).bin" }
        let result = try dstack("run", "--artifact", "out", "--", "sh", "-c", script)
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.stderr.contains("[dstack] artifacts: complete (12 files"), result.stderr)
        XCTAssertGreaterThan(proxy.faults.count, 3, "the proxy failed some uploads: \(proxy.faults.count)")

        let target = scratch("through-proxy")
        let download = try dstack("artifacts", "download", runID(result), target.path)
        XCTAssertEqual(download.status, 0, download.description)
        let files = try XCTUnwrap(try artifacts(runID(result))["files"]?.arrayValue)
        XCTAssertEqual(files.count, 12)
        for file in files {
            let path = try XCTUnwrap(file["path"]?.stringValue)
            XCTAssertEqual(try FileDigest.sha256Hex(path: target.appendingPathComponent(path).path), file["sha256"]?.stringValue, path)
            XCTAssertEqual(try FileDigest.sha256Hex(path: home.appendingPathComponent("artifacts/\(runID(result))/\(path)").path),
                           file["sha256"]?.stringValue, path)
        }
    }
}

/// 30% of calls fail, in a fixed pseudo-random order, with one of three faults.
final class SeededFaults: @unchecked Sendable { // `lock` guards `state`
    private let lock = NSLock()
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    func next() -> FaultProxy.Fault {
        lock.withLock {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let roll = (state >> 33) % 100
            guard roll < 30 else { return .none }
            switch roll % 3 {
            case 0: return .status(503)
            case 1: return .dropRequest
            default: return .dropReply
            }
        }
    }
}
