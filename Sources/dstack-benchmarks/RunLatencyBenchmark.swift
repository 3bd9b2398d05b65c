import DstackCore
import Foundation

// dstack-benchmarks run-latency [RUNS] [--dstack PATH]
//
// Time from `dstack run` to the spot request being sent. Starts its own moto and a
// counting proxy in front of it, configures AWS in a temporary DSTACK_HOME with the
// proxy as endpoint, `dstack autoscale allow m5.large --max 100`, and starts the release
// `dstack server` (default reconcile interval) on a free port. Then, after one warm-up
// run, RUNS times: note the monotonic time, start `dstack run --detach --instance-type
// m5.large -- true`, and wait for the proxy to receive a RequestSpotInstances. The
// figure is the proxy's arrival time minus the time just before the CLI was spawned
// (the same CLOCK_MONOTONIC). Each run launches its own instance: the earlier runs'
// instances are still starting (no runner ever registers), so none can be reused.
// Everything started is stopped by PID at the end.

func benchmarkRunLatency(runs: Int, dstackOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let scratch = try scratchDirectory("run-latency")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let moto = try Moto(scratch: scratch)
    defer { moto.stop() }
    let proxy = try CountingProxy(upstream: moto.url)
    defer { proxy.stop() }

    let port = try freePort()
    let serverURL = "http://127.0.0.1:\(port)"
    let home = scratch.appendingPathComponent("home")
    let environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path, "DSTACK_SERVER_URL": serverURL])
    try mustRun(dstack, ["aws", "configure", "--access-key-id", "testing", "--secret-access-key", "testing",
                         "--region", "us-east-1", "--endpoint-url", proxy.url], environment: environment)
    try mustRun(dstack, ["autoscale", "allow", "m5.large", "--max", "100"], environment: environment)

    let server = try Child("dstack server", executable: dstack, arguments: ["server", "--port", String(port), "--allow-loopback-advertise"],
                           environment: environment, log: scratch.appendingPathComponent("server.log"))
    defer { server.stop() }
    try waitForServer(serverURL, server: server)

    var latencies: [Double] = []
    var cliExits: [Double] = []
    var toFirstCall: [Double] = [] // CLI start → the pass's first EC2 call (the server woke and began)
    var before: [String: [Int]] = [:] // EC2 calls between the CLI's start and the spot request, per action
    for index in 0...runs {
        Thread.sleep(forTimeInterval: 0.3) // let the previous pass finish
        proxy.reset()
        let start = monotonicNanoseconds()
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: dstack)
        cli.arguments = ["run", "--detach", "--no-code", "--instance-type", "m5.large", "--", "true"]
        cli.environment = environment
        cli.standardOutput = FileHandle.nullDevice
        cli.standardError = FileHandle.nullDevice
        try cli.run()
        var spot: CountingProxy.Call?
        try waitUntil(timeout: 30, interval: 0.001, "RequestSpotInstances after dstack run #\(index)") {
            spot = proxy.calls.first { $0.action == "RequestSpotInstances" }
            return spot != nil
        }
        cli.waitUntilExit()
        let exited = monotonicNanoseconds()
        guard cli.terminationStatus == 0 else { throw BenchmarkError("dstack run exited with \(cli.terminationStatus)") }
        if index == 0 { continue } // warm-up: first DescribeImages and the like
        latencies.append(ms(spot!.arrivedAt - start))
        cliExits.append(ms(exited - start))
        if let first = proxy.calls.first { toFirstCall.append(ms(first.arrivedAt - start)) }
        var counts: [String: Int] = [:]
        for call in proxy.calls where call.arrivedAt <= spot!.arrivedAt { counts[call.action, default: 0] += 1 }
        for (action, count) in counts { before[action, default: []].append(count) }
    }
    print(String(format: "run-latency: dstack run → RequestSpotInstances at the proxy: median %.1f ms (p90 %.1f, min %.1f, max %.1f) over %d runs",
                 median(latencies), percentile(latencies, 0.9), latencies.min()!, latencies.max()!, runs))
    print(String(format: "             of which dstack run start → the pass's first EC2 call: median %.1f ms", median(toFirstCall)))
    print(String(format: "             dstack run --detach process start to exit: median %.1f ms", median(cliExits)))
    print("             EC2 calls in that window (median per run): "
          + before.sorted { $0.key < $1.key }.map { "\($0.key) \(Int(median($0.value.map(Double.init))))" }.joined(separator: ", "))
    print("             all: " + latencies.map { String(format: "%.0f", $0) }.joined(separator: " ") + " ms")
    print(median(latencies) < 500 ? "target < 500 ms: met" : "target < 500 ms: MISSED")
}
