import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Chaos against moto: a fault proxy between dstack and EC2 throttles, fails, drops and
/// slows 30% of the calls while eight workflows run on runners booted from their user
/// data (as in SpotLifecycleOnEC2Tests). Every run must finish, no rule's max may be
/// exceeded at any moment the cloud shows, and `disable` must leave nothing behind.
final class ChaosOnEC2Tests: EC2EndToEndTestCase {
    var runners: [String: Process] = [:]
    var metadata: StubMetadataService!
    var sampler: Process?
    var faultsLog = ""

    /// The faults EC2 and the network between can cause, drawn with equal weight.
    static let ec2Faults: [FaultProxy.Fault] = [
        .reply(status: 503, contentType: "text/xml", body: ec2Error("RequestLimitExceeded", "Request limit exceeded.")),
        .reply(status: 400, contentType: "text/xml", body: ec2Error("Throttling", "Rate exceeded")),
        .reply(status: 500, contentType: "text/xml", body: ec2Error("InternalError", "An internal error has occurred.")),
        .dropRequest,
        .dropReply,
        .delay(3),
    ]

    /// EC2's error reply, as its query API sends it.
    static func ec2Error(_ code: String, _ message: String) -> String {
        #"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>\#(code)</Code><Message>\#(message)</Message></Error></Errors><RequestID>chaos</RequestID></Response>"#
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        metadata = try StubMetadataService()
    }

    override func tearDown() {
        let keep = (testRun?.failureCount ?? 0) > 0 || ProcessInfo.processInfo.environment["DSTACK_CHAOS_KEEP_LOG"] != nil
        if keep, let serverLog {
            let kept = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-chaos-server-\(UUID().uuidString).log")
            try? FileManager.default.copyItem(at: serverLog, to: kept)
            print("chaos: the server's log is kept in \(kept.path)")
        }
        stopSampler()
        for runner in runners.values where runner.isRunning { runner.terminate(); runner.waitUntilExit() }
        metadata?.stop()
        super.tearDown()
    }

    override var failureContext: String { "\nfaults injected:\n\(faultsLog)" }

    func testEightWorkflowsFinishUnderInjectedEC2FaultsWithinEveryMaxAndDisableLeavesNothing() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["DSTACK_CHAOS_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(1 << 32))
        // The issue's 30%; more (DSTACK_CHAOS_FRACTION) makes calls fail past the provider's retries.
        let fraction = Double(ProcessInfo.processInfo.environment["DSTACK_CHAOS_FRACTION"] ?? "") ?? 0.3
        print("chaos: seed \(seed) (DSTACK_CHAOS_SEED=\(seed) draws the same faults), \(Int(fraction * 100))% of EC2 calls faulted")
        let idempotent = try EC2ClientTokenProxy(upstream: moto.url)
        defer { idempotent.stop() }
        let armed = ArmedSwitch()
        let chaos = try FaultProxy(upstream: idempotent.url,
                                   rule: FaultProxy.random(fraction: fraction, of: Self.ec2Faults, seed: seed, eachFirst: true) { _ in armed.isOn })
        defer { chaos.stop() }
        let maxima = ["m5.large": 2, "c5.large": 1]

        try dstack("aws", "configure", "--access-key-id", accessKey, "--secret-access-key", secret,
                   "--region", "us-east-1", "--endpoint-url", chaos.url)
        for (type, max) in maxima.sorted(by: { $0.key < $1.key }) { try dstack("autoscale", "allow", type, "--max", String(max)) }
        let port = try startServer(["--allow-loopback-advertise"])
        let serverURL = "http://127.0.0.1:\(port)"
        let peaks = home.appendingPathComponent("peaks.json")
        try startSampler(writingTo: peaks)

        armed.isOn = true
        let started = Date()
        var ids: [String] = []
        for index in 1...8 {
            ids.append(try dstack("run", "--detach", "--no-code", "--cpu", "2", "--", "sh", "-c", "echo chaos-\(index); sleep 2",
                                  serverURL: serverURL).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try eventually("all eight runs done", timeout: 180) {
            faultsLog = chaos.faults.map { "\($0.request): \($0.fault)" }.joined(separator: "\n")
            try bootNewInstances()
            let runs = try JSONValue.parse(try dstack("ps", "--all", "--json").stdout).arrayValue ?? []
            let statuses = Dictionary(runs.compactMap { run in run["id"]?.stringValue.map { ($0, run) } }, uniquingKeysWith: { a, _ in a })
            for id in ids {
                let status = statuses[id]?["status"]?.stringValue
                if let status, ["failed", "stopped", "interrupted"].contains(status) {
                    XCTFail("run \(id) ended \(status): \(statuses[id]?["reason"]?.stringValue ?? "")\n\(serverOutput)\(failureContext)")
                    throw MotoServerError("run \(id) ended \(status)")
                }
            }
            return ids.allSatisfy { statuses[$0]?["status"]?.stringValue == "done" }
        }
        let ranFor = Date().timeIntervalSince(started)

        try dstack("autoscale", "disable")
        try eventually("nothing running or open in the cloud after disable", timeout: 60) {
            let cloud = try emulator()
            let live = cloud["instances"]?.objectValue?.entries.filter { ["pending", "running"].contains($0.value["state"]?.stringValue ?? "") } ?? []
            let open = cloud["requests"]?.objectValue?.entries.filter { $0.value.stringValue == "open" } ?? []
            return live.isEmpty && open.isEmpty
        }
        armed.isOn = false
        let sampled = try stopSampler(reading: peaks)
        XCTAssertGreaterThan(sampled.samples, 10, "the sampler watched the cloud through the run")
        for (type, max) in maxima {
            XCTAssertLessThanOrEqual(sampled.peaks[type] ?? 0, max, "\(type): at most \(max) pending or running at any sample")
        }
        XCTAssertGreaterThan(sampled.peaks.values.reduce(0, +), 0, "instances were launched")

        let injected = chaos.faults
        let kinds = Set(injected.map { Self.kind($0.fault) })
        XCTAssertEqual(kinds, Set(Self.ec2Faults.map(Self.kind)), "each kind of fault was injected at least once")
        let share = Double(injected.count) / Double(max(1, chaos.requests.count))
        let failedPasses = serverOutput.components(separatedBy: "reconcile failed").count - 1
        print(String(format: "chaos: 8 runs done in %.1f s; %d of %d EC2 calls faulted (%.0f%%); %d passes failed; "
                     + "%d spot requests replayed by ClientToken; peaks %@",
                     ranFor, injected.count, chaos.requests.count, share * 100, failedPasses, idempotent.replayed, "\(sampled.peaks)"))
    }

    static func kind(_ fault: FaultProxy.Fault) -> String {
        switch fault {
        case .none: return "none"
        case .dropReply: return "drop reply"
        case .dropRequest: return "drop request"
        case .delay: return "delay"
        case .status(let status): return "status \(status)"
        case .reply(let status, _, let body): return "reply \(status) \(body.count)"
        }
    }

    /// Boots every running instance moto holds that has no runner yet, from its user data.
    func bootNewInstances() throws {
        try bootNewInstances(&runners, metadata: metadata)
    }

    /// Watches moto directly (not through the fault proxy) with boto3, several times a
    /// second, and keeps the most instances of each type ever pending or running at once.
    /// Every instance of this test's moto is dstack's, so all of them count.
    func startSampler(writingTo file: URL) throws {
        guard let python = MotoServer.findExecutable("python3") else { throw MotoServerError("python3 is not on PATH") }
        let script = """
            import boto3, collections, json, os, time
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="\(accessKey)", aws_secret_access_key="\(secret)")
            peaks, samples, path = {}, 0, "\(file.path)"
            while True:
                counts = collections.Counter()
                for r in ec2.describe_instances()["Reservations"]:
                    for i in r["Instances"]:
                        if i["State"]["Name"] in ("pending", "running"):
                            counts[i["InstanceType"]] += 1
                for t, c in counts.items():
                    peaks[t] = max(peaks.get(t, 0), c)
                samples += 1
                with open(path + ".tmp", "w") as f:
                    json.dump({"samples": samples, "peaks": peaks}, f)
                os.replace(path + ".tmp", path)
                time.sleep(0.1)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        sampler = process
    }

    func stopSampler(reading file: URL) throws -> (samples: Int, peaks: [String: Int]) {
        stopSampler()
        let json = try JSONValue.parse(try String(contentsOf: file, encoding: .utf8))
        let peaks = (json["peaks"]?.objectValue?.entries ?? []).reduce(into: [String: Int]()) { all, entry in
            all[entry.key] = Int(entry.value.intValue ?? 0)
        }
        return (Int(json["samples"]?.intValue ?? 0), peaks)
    }

    func stopSampler() {
        if let sampler, sampler.isRunning { sampler.terminate(); sampler.waitUntilExit() }
        sampler = nil
    }
}

/// Whether the fault proxy injects faults yet: off while the test sets up.
// @unchecked: `on` is guarded by `lock`.
final class ArmedSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var on = false
    var isOn: Bool {
        get { lock.withLock { on } }
        set { lock.withLock { on = newValue } }
    }
}
