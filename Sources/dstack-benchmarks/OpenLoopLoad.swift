import DstackCore
import NIOCore
import NIOHTTP1
import NIOPosix

// The open-loop load of `dstack-benchmarks replicas --rates R,R,...`, as wrk2's `-R`:
// requests go out on a fixed schedule whatever the server does, so a slow reply does not
// hold the next request back (a closed loop measures at most as many requests as its
// clients can wait on, and hides a server's stalls: "coordinated omission").

/// One open-loop run: the rate asked for, and what came of it.
struct OpenLoopLatencies {
    var route: String
    /// Requests a second the schedule offered.
    var offeredRate: Double
    /// Latencies in ms, from each request's scheduled send time to its reply's last byte.
    var latencies: [Double]
    /// Requests whose reply arrived, over the recorded seconds.
    var seconds: Double
    var cpu: CPUShares?
}

/// `rate` requests a second for `seconds`, spread over `connections` keep-alive
/// connections (connection c on ports[c mod n]); each connection sends its share on a
/// fixed schedule (every connections/rate seconds, staggered by 1/rate between
/// connections). A request is timed from when it was scheduled, not from when it went
/// out: when the connection was still waiting on an earlier reply, the wait counts, as
/// wrk2 counts it. The first second is a warm-up. Returns every recorded latency (ms).
func openLoop(ports: [Int], connections: Int, rate: Double, seconds: Double, token: String, method: HTTPMethod, path: String,
              body: JSONValue?, expected: Int, group: EventLoopGroup) async throws -> [Double] {
    let start = monotonicNanoseconds() + 50_000_000 // every connection open before the first slot
    let recordFrom = start + 1_000_000_000
    let end = start + UInt64(seconds * 1e9)
    let spacing = Double(connections) / rate * 1e9
    return try await withThrowingTaskGroup(of: [Double].self) { tasks in
        for client in 0..<connections {
            let port = ports[client % ports.count]
            let offset = UInt64(Double(client) / rate * 1e9)
            tasks.addTask {
                try await ScaleHTTPConnection.with(host: "127.0.0.1", port: port, group: group) { connection in
                    var latencies: [Double] = []
                    var slot = 0
                    while true {
                        let scheduled = start + offset + UInt64(Double(slot) * spacing)
                        guard scheduled < end else { break }
                        slot += 1
                        let now = monotonicNanoseconds()
                        if scheduled > now { try await Task.sleep(nanoseconds: scheduled - now) }
                        let reply = try await connection.send(method, path, bearer: token, json: body)
                        let received = monotonicNanoseconds()
                        guard reply.status == expected else {
                            throw BenchmarkError("\(method) \(path) at port \(port) answered \(reply.status): \(reply.body.prefix(300))")
                        }
                        if scheduled >= recordFrom { latencies.append(Double(received - scheduled) / 1e6) }
                    }
                    return latencies
                }
            }
        }
        var all: [Double] = []
        for try await latencies in tasks { all += latencies }
        return all
    }
}

func printOpenLoop(_ runs: [OpenLoopLatencies], connections: Int) {
    guard !runs.isEmpty else { return }
    print("")
    print("Open loop (fixed rate, as wrk2 -R; \(connections) connections spread over the replicas; each request timed from "
          + "its scheduled send time, so a stalled reply delays and counts against the ones behind it):")
    print("")
    print("| route | offered rate | achieved | p50 | p90 | p99 | max |")
    print("|---|---|---|---|---|---|---|")
    for run in runs {
        let all = run.latencies
        print(String(format: "| %@ | %.0f/s | %.0f/s | %.1f ms | %.1f ms | %.1f ms | %.1f ms |", run.route, run.offeredRate,
                     Double(all.count) / run.seconds, percentile(all, 0.5), percentile(all, 0.9), percentile(all, 0.99),
                     all.max() ?? .nan))
    }
    for run in runs {
        let p99 = percentile(run.latencies, 0.99)
        print(p99 < 50 ? String(format: "goal p99 < 50 ms, %@ at %.0f/s (open loop): met", run.route, run.offeredRate)
                       : String(format: "goal p99 < 50 ms, %@ at %.0f/s (open loop): MISSED (%.1f ms)", run.route, run.offeredRate, p99))
    }
}
