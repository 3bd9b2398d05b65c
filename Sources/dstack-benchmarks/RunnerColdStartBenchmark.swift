import DstackCore
import Foundation

// dstack-benchmarks runner-cold-start [BOOTS] [--dstack PATH]      (as root; after `make release`)
//
// How long a new instance takes from its user data's first line to its runner's
// registration, on the image harness of Tests/ImageE2E: a debootstrapped Debian
// bookworm root in its own network namespace. Two roots: "runner-libs" (the runner's
// libraries already installed, as on an image that has them) and "stock" (no jansson:
// the user data installs it from Debian's mirror on the way). Starts moto and a release
// `dstack server` bound to the first instance's host address, advertising
// https://HOST:PORT (self-signed, pinned). For each boot: `dstack instances request
// m5.large`, read the launched instance's user data from moto, note the wall clock,
// start the user data in a fresh instance (`boot-instance.sh run`, which returns once
// it runs), and poll state.db until the server records the registration. The figure is
// the recorded registration time minus the noted start: download of the runner (58 MB
// over the veth pair, TLS), SHA-256 check, library check or install, IMDSv2, register.
// Everything started is stopped by PID at the end.

func benchmarkRunnerColdStart(boots: Int, dstackOverride: String?) throws {
    guard getuid() == 0 else { throw BenchmarkError("runner-cold-start needs root (network namespaces, chroot)") }
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/ImageE2E")
    func harness(_ arguments: [String], environment: [String: String] = [:]) throws -> [String: String] {
        let output = try mustRun(scripts.appendingPathComponent("boot-instance.sh").path, arguments,
                                 environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new })
        var facts: [String: String] = [:]
        for line in output.split(separator: "\n") {
            if let equals = line.firstIndex(of: "=") { facts[String(line[..<equals])] = String(line[line.index(after: equals)...]) }
        }
        return facts
    }
    func root(_ variant: String) throws -> String {
        let output = try mustRun(scripts.appendingPathComponent("make-root.sh").path, ["--variant", variant],
                                 environment: ProcessInfo.processInfo.environment)
        return String(output.split(separator: "\n").last ?? "")
    }

    let roots = [("runner-libs", try root("runner-libs")), ("stock", try root("stock"))]
    let scratch = try scratchDirectory("cold-start")
    defer { try? FileManager.default.removeItem(at: scratch) }
    var instanceDirectories: [String] = []
    defer { for directory in instanceDirectories { _ = try? harness(["stop", directory]) } }
    let moto = try Moto(scratch: scratch)
    defer { moto.stop() }

    let anchor = try harness(["up", roots[0].1])
    instanceDirectories.append(anchor["INSTANCE_DIR"] ?? "")
    let host = anchor["HOST_ADDRESS"] ?? ""
    let home = scratch.appendingPathComponent("home")
    let environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path])
    try mustRun(dstack, ["aws", "configure", "--access-key-id", "testing", "--secret-access-key", "testing",
                         "--region", "us-east-1", "--endpoint-url", moto.url], environment: environment)
    try mustRun(dstack, ["autoscale", "allow", "m5.large", "--max", "100"], environment: environment)
    let port = try freePort()
    let server = try Child("dstack server", executable: dstack,
                           arguments: ["server", "--host", host, "--port", String(port), "--advertise-url", "https://\(host):\(port)",
                                       "--idle-timeout", "30m"],
                           environment: environment, log: scratch.appendingPathComponent("server.log"))
    defer { server.stop() }
    try waitUntil(timeout: 30, "dstack server to start") {
        guard server.process.isRunning else { throw BenchmarkError("dstack server exited: \(server.log)") }
        return server.log.contains("instances are given")
    }

    let state = home.appendingPathComponent("state.db").path
    func registeredAt(_ id: String) throws -> Double? {
        let output = try mustRun("/usr/bin/sqlite3", [state, "SELECT registered_at FROM instances WHERE id = '\(id)' AND registered_at IS NOT NULL"],
                                 environment: ProcessInfo.processInfo.environment)
        return Double(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    var seen = Set<String>()
    func nextLaunch() throws -> (id: String, userData: String) {
        try mustRun(dstack, ["instances", "request", "m5.large"], environment: environment)
        let listing = try mustRun("/usr/bin/env", ["python3", "-c", """
            import base64, boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
            out = {}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    raw = ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="userData").get("UserData", {}).get("Value", "")
                    out[i["InstanceId"]] = base64.b64decode(raw).decode() if raw else ""
            print(json.dumps(out))
            """], environment: ProcessInfo.processInfo.environment)
        let json = try JSONValue.parse(listing)
        guard let fresh = json.objectValue?.entries.first(where: { !seen.contains($0.key) }) else {
            throw BenchmarkError("no new instance in moto after dstack instances request")
        }
        seen.insert(fresh.key)
        return (fresh.key, fresh.value.stringValue ?? "")
    }

    for (variant, rootPath) in roots {
        var times: [Double] = []
        for _ in 0..<boots {
            let instance = try harness(["up", rootPath])
            let directory = instance["INSTANCE_DIR"] ?? ""
            instanceDirectories.append(directory)
            let (id, userData) = try nextLaunch()
            let file = directory + "/user-data.sh"
            try userData.write(toFile: file, atomically: true, encoding: .utf8)
            let start = Date().timeIntervalSince1970
            _ = try harness(["run", directory, file], environment: ["INSTANCE_ID": id])
            var registered: Double?
            try waitUntil(timeout: 300, interval: 0.05, "\(id) to register (\(variant))") {
                registered = try registeredAt(id)
                return registered != nil
            }
            times.append(registered! - start)
            _ = try? harness(["stop", directory])
        }
        print(String(format: "runner-cold-start (%@): user data start → registration: median %.2f s (min %.2f, max %.2f) over %d boots; all: %@",
                     variant, median(times), times.min()!, times.max()!, boots, times.map { String(format: "%.2f", $0) }.joined(separator: " ")))
        if variant == "runner-libs" { print(median(times) < 2 ? "target < 2 s without installs: met" : "target < 2 s without installs: MISSED") }
    }
}
