import DstackAPI
import DstackCore
import DstackTesting
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

// dstack-benchmarks replicas [--replicas 3] [--runs 1000] [--clients 12] [--seconds 10] [--rates 100,200] [--kills 3]
//                            [--server PATH] [--dstack PATH]
//
// Several `dstack-server` processes (the release binary next to this one) on one
// PostgreSQL 15 database (a throwaway one: initdb in a temporary directory, a free port,
// an unprivileged user), sharing one DSTACK_HOME, as the issue's replicas would:
//   1. The replicas start (`--database-url`, `--metrics-public`, each on a free port); the
//      CLI configures the local provider in simulated mode (launches record instances
//      and start no process) and `autoscale allow local --max 10`; RUNS runs are
//      submitted through the API (`POST /api/v1/runs`), so the state is realistic: ten
//      instances launched for the first runs (their runners never come), the rest waiting
//      with a reason, which every pass of the leader reads.
//   2. API latency, closed loop: CLIENTS clients, each on its own keep-alive connection
//      to replica (i mod REPLICAS), send one request after another for SECONDS (the first
//      second is a warm-up, not recorded). First `ps` (`GET /api/v1/runs`, what
//      `dstack ps` sends: the newest 20 runs), then run submission (`POST /api/v1/runs`
//      of `true`, what `dstack run --detach --no-code -- true` sends; each one wakes the
//      leader, whose passes run meanwhile). Each request is timed in this process from
//      its first byte written to its reply's last byte read; p50/p90/p99/max, overall and
//      per replica.
//   3. Run submission, open loop, at each of RATES submissions a second (OpenLoopLoad.swift,
//      as wrk2's -R): CLIENTS connections, each sending its share on a fixed schedule,
//      each request timed from its scheduled send time, for SECONDS (first second a
//      warm-up). An addition to step 2's closed-loop figure, which it does not replace.
//   4. Failover, KILLS times: the leader (the replica whose `GET /api/v1/health` says
//      `"leader": true`) is killed with SIGKILL; the others are polled every 10 ms:
//      kill → a replica's health says it leads; kill → its reconcile pass count in
//      `/metrics` (dstack_reconcile_pass_duration_seconds_count) goes up, i.e. its first
//      pass as the leader has finished. The killed replica is started again on its port,
//      as a service manager would, and comes back as a follower.

struct RouteLatencies {
    var route: String
    /// Latencies in ms, by replica.
    var byReplica: [[Double]]
    var seconds: Double
    var cpu: CPUShares?
    var all: [Double] { byReplica.flatMap { $0 } }
}

struct FailoverSample {
    var leaderSeconds: Double
    var firstPassSeconds: Double
}

struct ReplicasResult {
    var replicas: Int
    var runs: Int
    var clients: Int
    var routes: [RouteLatencies]
    var openLoop: [OpenLoopLatencies]
    var failovers: [FailoverSample]
    var runsAtEnd: Int
}

/// One `dstack-server` replica of the benchmark, started and stopped by its own PID.
final class Replica {
    let port: Int
    var child: Child
    var url: String { "http://127.0.0.1:\(port)" }
    private let start: (Int) throws -> Child

    init(port: Int, start: @escaping (Int) throws -> Child) throws {
        self.port = port
        self.start = start
        child = try start(port)
    }

    func restart() throws {
        child = try start(port)
    }

    private static let client = CurlHTTPClient(options: .init(connectTimeout: 0.5, totalTimeout: 2, proxy: ProxySettings()))

    /// Whether `GET /api/v1/health` says this replica leads; nil when it does not answer.
    func leads() -> Bool? {
        guard child.process.isRunning,
              let reply = try? Self.client.sendBlocking(HTTPRequest(url: url + APIPaths.health)), reply.status == 200,
              let json = try? JSONValue.parse(Array(reply.body)) else { return nil }
        return json["leader"]?.boolValue
    }

    /// Reconcile passes this replica has run (its /metrics histogram's count).
    func passCount() -> Int? {
        guard child.process.isRunning,
              let reply = try? Self.client.sendBlocking(HTTPRequest(url: url + "/metrics")), reply.status == 200 else { return nil }
        for line in String(decoding: reply.body, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("dstack_reconcile_pass_duration_seconds_count") {
            return line.split(separator: " ").last.flatMap { Double($0) }.map { Int($0) }
        }
        return 0
    }
}

func benchmarkReplicas(replicaCount: Int, runs: Int, clients: Int, seconds: Double, rates: [Double], kills: Int,
                       serverOverride: String?, dstackOverride: String?) async throws -> ReplicasResult {
    let server = try siblingBinary("dstack-server", override: serverOverride)
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    let scratch = try scratchDirectory("replicas")
    defer { try? FileManager.default.removeItem(at: scratch) }
    say("replicas: starting a throwaway PostgreSQL 15")
    let postgres = try ThrowawayPostgres()
    defer { postgres.stop() }
    let database = try postgres.makeDatabase("replicas")
    let home = scratch.appendingPathComponent("home")
    let environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path, "DSTACK_DATABASE_URL": database])
    var replicas: [Replica] = []
    defer { replicas.forEach { $0.child.stop() } }
    for index in 0..<replicaCount {
        let replica = try Replica(port: try freePort()) { port in
            try Child("dstack-server \(index)", executable: server,
                      arguments: ["--port", String(port), "--metrics-public", "--idle-timeout", "30m"], environment: environment,
                      log: scratch.appendingPathComponent("server-\(index)-\(UUID().uuidString.prefix(4)).log"))
        }
        replicas.append(replica)
        // The first one creates the schema and the admin; the others start once it has.
        try waitForServer(replica.url, server: replica.child)
    }
    say("replicas: \(replicaCount) dstack-server on \(replicas.map(\.url).joined(separator: ", "))")
    let cli = environment.merging(["DSTACK_SERVER_URL": replicas[0].url]) { _, new in new }
    try mustRun(dstack, ["local", "configure", "--simulated", "true"], environment: cli)
    try mustRun(dstack, ["autoscale", "allow", "local", "--max", "10"], environment: cli)
    guard let token = LocalServerRecord.adminToken(DstackHome(url: home)) else {
        throw BenchmarkError("the first replica wrote no admin token in \(home.path)")
    }
    let group = MultiThreadedEventLoopGroup.singleton
    say("replicas: submitting \(runs) runs")
    _ = try await RunSubmitter(host: "127.0.0.1", port: replicas[0].port, token: token, group: group).submit(count: runs, inFlight: 8)

    let submission = try JSONValueEncoder.api.encode(RunSubmission(
        workflow: nil, commands: ["true"], requirements: RequirementsPayload(), environment: [:], codeSha256: nil, codeSize: nil, wait: false))
    var routes: [RouteLatencies] = []
    let cases: [(route: String, method: HTTPMethod, expected: Int, body: JSONValue?)] = [
        ("ps (GET /api/v1/runs)", .GET, 200, nil),
        ("run submission (POST /api/v1/runs)", .POST, 201, submission),
    ]
    // Where the CPU goes while each load is recorded (after its warm-up second): the
    // replicas (the leader marked), PostgreSQL, this process.
    let processes = replicas.enumerated().map { index, replica in
        ("replica \(index)\(replica.leads() == true ? " (leader)" : "")", replica.child.pid)
    }
    let postgresPID = postgres.pid
    func cpuAfterWarmUp() -> Task<CPUSnapshot, Error> {
        Task {
            try await Task.sleep(nanoseconds: 1_000_000_000)
            return CPUSnapshot.take(replicas: processes, postgresPID: postgresPID)
        }
    }
    func cpuNow() -> CPUSnapshot { CPUSnapshot.take(replicas: processes, postgresPID: postgresPID) }
    for (route, method, expected, body) in cases {
        say("replicas: \(route), \(clients) clients for \(seconds) s")
        let warmedUp = cpuAfterWarmUp()
        let byReplica = try await closedLoop(ports: replicas.map(\.port), clients: clients, seconds: seconds, token: token,
                                             method: method, path: APIPaths.runs, body: body, expected: expected, group: group)
        let cpu = try await warmedUp.value.until(cpuNow(), requests: byReplica.reduce(0) { $0 + $1.count })
        routes.append(RouteLatencies(route: route, byReplica: byReplica, seconds: max(0.001, seconds - 1), cpu: cpu))
    }
    var openLoops: [OpenLoopLatencies] = []
    for rate in rates {
        let route = "run submission (POST /api/v1/runs)"
        say("replicas: \(route), open loop at \(Int(rate))/s over \(clients) connections for \(seconds) s")
        let warmedUp = cpuAfterWarmUp()
        let latencies = try await openLoop(ports: replicas.map(\.port), connections: clients, rate: rate, seconds: seconds, token: token,
                                           method: .POST, path: APIPaths.runs, body: submission, expected: 201, group: group)
        openLoops.append(OpenLoopLatencies(route: route, offeredRate: rate, latencies: latencies, seconds: max(0.001, seconds - 1),
                                           cpu: try await warmedUp.value.until(cpuNow(), requests: latencies.count)))
    }

    var failovers: [FailoverSample] = []
    for round in 0..<kills {
        var leader: Replica?
        try waitUntil(timeout: 30, interval: 0.05, "one replica to lead") {
            let leaders = replicas.filter { $0.leads() == true }
            leader = leaders.count == 1 ? leaders[0] : nil
            return leader != nil
        }
        guard let leader else { throw BenchmarkError("no leader") }
        let others = replicas.filter { $0 !== leader }
        let before = others.map { $0.passCount() ?? 0 }
        let killedAt = monotonicNanoseconds()
        kill(leader.child.pid, SIGKILL)
        var tookLead: UInt64?
        var passed: UInt64?
        let deadline = Date().addingTimeInterval(60)
        while passed == nil {
            guard Date() < deadline else { throw BenchmarkError("no replica took over within 60 s of killing the leader (kill \(round + 1))") }
            for (index, other) in others.enumerated() {
                if tookLead == nil, other.leads() == true { tookLead = monotonicNanoseconds() }
                if let count = other.passCount(), count > before[index] {
                    passed = monotonicNanoseconds()
                    if tookLead == nil { tookLead = passed }
                }
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        failovers.append(FailoverSample(leaderSeconds: Double(tookLead! - killedAt) / 1e9, firstPassSeconds: Double(passed! - killedAt) / 1e9))
        say(String(format: "replicas: kill %d: leader after %.2f s, its first pass done after %.2f s", round + 1,
                   failovers.last!.leaderSeconds, failovers.last!.firstPassSeconds))
        leader.child.process.waitUntilExit()
        try leader.restart()
        try waitForServer(leader.url, server: leader.child)
    }
    let runsAtEnd = try mustRun(dstack, ["ps", "--all", "--json"], environment: cli)
    let count = (try JSONValue.parse(runsAtEnd).arrayValue ?? []).count
    return ReplicasResult(replicas: replicaCount, runs: runs, clients: clients, routes: routes, openLoop: openLoops, failovers: failovers,
                          runsAtEnd: count)
}

/// CLIENTS closed-loop clients, client i on a keep-alive connection to ports[i mod n]:
/// each sends its next request as soon as the last reply is read. The first second is a
/// warm-up. Returns the latencies (ms) recorded at each port.
func closedLoop(ports: [Int], clients: Int, seconds: Double, token: String, method: HTTPMethod, path: String, body: JSONValue?,
                expected: Int, group: EventLoopGroup) async throws -> [[Double]] {
    let start = monotonicNanoseconds()
    let recordFrom = start + 1_000_000_000
    let end = start + UInt64(seconds * 1e9)
    let results = try await withThrowingTaskGroup(of: (Int, [Double]).self) { tasks in
        for client in 0..<clients {
            let replica = client % ports.count
            tasks.addTask {
                try await ScaleHTTPConnection.with(host: "127.0.0.1", port: ports[replica], group: group) { connection in
                    var latencies: [Double] = []
                    while true {
                        let sent = monotonicNanoseconds()
                        guard sent < end else { break }
                        let reply = try await connection.send(method, path, bearer: token, json: body)
                        let received = monotonicNanoseconds()
                        guard reply.status == expected else {
                            throw BenchmarkError("\(method) \(path) at port \(ports[replica]) answered \(reply.status): \(reply.body.prefix(300))")
                        }
                        if sent >= recordFrom { latencies.append(Double(received - sent) / 1e6) }
                    }
                    return (replica, latencies)
                }
            }
        }
        var byReplica = Array(repeating: [Double](), count: ports.count)
        for try await (replica, latencies) in tasks { byReplica[replica] += latencies }
        return byReplica
    }
    return results
}

private func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

func printReplicas(_ result: ReplicasResult) {
    print("replicas: \(result.replicas) dstack-server on one PostgreSQL 15, \(result.runs) runs in state at the start, "
          + "\(result.clients) closed-loop clients spread over the replicas (\(result.runsAtEnd) runs at the end)")
    print("")
    print("Closed loop (\(result.clients) clients, each sending its next request as soon as its last reply is read):")
    print("")
    print("| route | requests/s | p50 | p90 | p99 | max | p99 per replica |")
    print("|---|---|---|---|---|---|---|")
    for route in result.routes {
        let all = route.all
        let perReplica = route.byReplica.map { String(format: "%.1f", percentile($0, 0.99)) }.joined(separator: " / ")
        print(String(format: "| %@ | %.0f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %@ ms |", route.route, Double(all.count) / route.seconds,
                     percentile(all, 0.5), percentile(all, 0.9), percentile(all, 0.99), all.max() ?? .nan, perReplica))
    }
    for route in result.routes {
        let p99 = percentile(route.all, 0.99)
        print(p99 < 50 ? "goal p99 < 50 ms, \(route.route): met" : String(format: "goal p99 < 50 ms, %@: MISSED (%.1f ms)", route.route, p99))
    }
    printOpenLoop(result.openLoop, connections: result.clients)
    print("")
    print("CPU while each load was recorded (after its warm-up second), by process:")
    for route in result.routes { if let cpu = route.cpu { print("- closed loop, \(route.route): \(cpu.summary)") } }
    for run in result.openLoop {
        if let cpu = run.cpu { print(String(format: "- open loop at %.0f/s, %@: %@", run.offeredRate, run.route, cpu.summary)) }
    }
    if !result.failovers.isEmpty {
        print("")
        print("| kill -9 of the leader | → a replica's health says it leads | → its first pass as leader done |")
        print("|---|---|---|")
        for (index, sample) in result.failovers.enumerated() {
            print(String(format: "| %d | %.2f s | %.2f s |", index + 1, sample.leaderSeconds, sample.firstPassSeconds))
        }
        let worst = result.failovers.map(\.firstPassSeconds).max() ?? 0
        print(worst < 15 ? String(format: "goal failover < 15 s: met (worst %.2f s)", worst)
                         : String(format: "goal failover < 15 s: MISSED (worst %.2f s)", worst))
    }
}
