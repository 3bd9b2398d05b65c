import DstackCore
import DstackTesting
import DstackWire
import Foundation

// Helpers the benchmarks share: moto started and stopped by PID, a counting forwarding
// proxy in front of it, child processes, and small statistics.

/// Nanoseconds on CLOCK_MONOTONIC (the same clock in this process and the ones it starts).
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, max(0, Int((Double(sorted.count - 1) * p).rounded())))
    return sorted[index]
}

/// A free port on 127.0.0.1.
func freePort() throws -> Int {
    try LocalPort.free()
}

/// A child process this benchmark started; stopped by its own PID only.
final class Child {
    let process: Process
    let name: String
    let logURL: URL

    /// Starts `executable` with its output in `log` (through `sh -c exec`, so the PID is the program's).
    init(_ name: String, executable: String, arguments: [String], environment: [String: String], log: URL) throws {
        self.name = name
        self.logURL = log
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "log=\"$1\"; shift; exec \"$@\" >\"$log\" 2>&1", "sh", log.path, executable] + arguments
        process.environment = environment
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: TimeInterval = 10) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// `moto_server -H 127.0.0.1 -p PORT`, started here and killed by PID in `stop()`.
final class Moto {
    let child: Child
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    init(scratch: URL) throws {
        guard let executable = which("moto_server") else { throw BenchmarkError("moto_server is not on PATH") }
        port = try freePort()
        child = try Child("moto_server", executable: executable, arguments: ["-H", "127.0.0.1", "-p", String(port)],
                          environment: ProcessInfo.processInfo.environment, log: scratch.appendingPathComponent("moto.log"))
        let client = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 2, proxy: ProxySettings()))
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard child.process.isRunning else { throw BenchmarkError("moto_server exited at start: \(child.log)") }
            if let reply = try? client.sendBlocking(HTTPRequest(url: "\(url)/moto-api/data.json")), reply.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        child.stop()
        throw BenchmarkError("moto_server did not answer on \(url) within 30 s")
    }

    func stop() { child.stop() }
}

/// A forwarding HTTP proxy on 127.0.0.1 in front of moto: every request is passed on
/// unchanged (method, path, headers, body) and its EC2 `Action=` is recorded with the
/// monotonic time it arrived. What it counts is what went over the wire.
final class CountingProxy: @unchecked Sendable {
    struct Call: Sendable {
        var action: String
        var arrivedAt: UInt64
        var body: String
    }

    private let lock = NSLock()
    private var _calls: [Call] = []
    private var server: LocalHTTPServer!
    let upstream: String

    init(upstream: String) throws {
        self.upstream = upstream
        let client = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 60, proxy: ProxySettings()))
        server = try LocalHTTPServer { [unowned self] request in
            let arrived = monotonicNanoseconds()
            let body = request.bodyText
            let action = Self.action(body: body, path: request.path)
            self.lock.withLock { self._calls.append(Call(action: action, arrivedAt: arrived, body: body)) }
            let skip: Set<String> = ["host", "content-length", "connection", "transfer-encoding", "expect"]
            let headers = request.headers.filter { !skip.contains($0.name.lowercased()) }.map { HTTPHeader($0.name, $0.value) }
            do {
                let reply = try client.sendBlocking(HTTPRequest(method: request.method, url: upstream + request.path,
                                                                headers: headers, body: request.body))
                let keep = reply.headers.filter { ["content-type", "x-amzn-requestid"].contains($0.name.lowercased()) }
                var response = LocalHTTPServer.Response(status: reply.status, headers: keep.map { (name: $0.name, value: $0.value) })
                response.body = reply.body
                return response
            } catch {
                return LocalHTTPServer.Response(status: 502, body: "proxy: \(error)")
            }
        }
    }

    var url: String { server.url }
    var calls: [Call] { lock.withLock { _calls } }
    func reset() { lock.withLock { _calls.removeAll() } }
    func stop() { server.stop() }

    /// Calls per action since the last reset.
    var counts: [String: Int] {
        var counts: [String: Int] = [:]
        for call in calls { counts[call.action, default: 0] += 1 }
        return counts
    }

    static func action(body: String, path: String) -> String {
        for source in [body, path.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""] {
            for pair in source.split(separator: "&") where pair.hasPrefix("Action=") {
                return String(pair.dropFirst("Action=".count))
            }
        }
        return "(no Action: \(path))"
    }
}

/// A temporary directory removed at the end unless the benchmark is asked to keep it.
func scratchDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-bench-\(name)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The `dstack` / `dstack-runner` next to this benchmark binary (same build), else an override.
func siblingBinary(_ name: String, override: String?) throws -> String {
    if let override { return override }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let candidate = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: candidate) else {
        throw BenchmarkError("\(candidate) does not exist; build it with `swift build -c release --product \(name)` into the same scratch path")
    }
    return candidate
}

/// Environment for a `dstack` child: its own home, no AWS variables from the caller.
func dstackEnvironment(home: URL, extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("DSTACK_") }
    environment["DSTACK_HOME"] = home.path
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    environment.merge(extra) { _, new in new }
    return environment
}

/// Runs a command to completion and fails with its output when it fails.
@discardableResult
func mustRun(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> String {
    let result = try run(executable, arguments, environment: environment)
    guard result.status == 0 else {
        throw BenchmarkError("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)")
    }
    return result.output
}

/// Polls `condition` every `interval` until it holds or `timeout` passes.
func waitUntil(timeout: TimeInterval, interval: TimeInterval = 0.05, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: interval)
    }
    throw BenchmarkError("timed out after \(timeout) s waiting for \(what)")
}

/// Waits for the server's wake endpoint to answer.
func waitForServer(_ url: String, server: Child) throws {
    let client = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 2, proxy: ProxySettings()))
    try waitUntil(timeout: 30, "dstack server at \(url)") {
        guard server.process.isRunning else { throw BenchmarkError("dstack server exited: \(server.log)") }
        return ((try? client.sendBlocking(HTTPRequest(method: "POST", url: url + RunnerAPI.wakePath, body: "")))?.status ?? 999) < 300
    }
}

func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

/// A `dstack server` on the local provider with one allowed runner, in a scratch home:
/// what the latency benchmarks that run real runners start from. `stop()` stops the
/// server and, by PID, the runners (the server's shutdown leaves local runners running).
struct LocalServerFixture {
    let home: URL
    let serverURL: String
    let environment: [String: String]
    let server: Child
    let state: StateStore

    init(dstack: String, runner: String, scratch: URL) throws {
        let port = try freePort()
        serverURL = "http://127.0.0.1:\(port)"
        home = scratch.appendingPathComponent("home")
        environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path, "DSTACK_SERVER_URL": serverURL,
                                                            "DSTACK_RUNNER_PATH": runner])
        server = try Child("dstack server", executable: dstack, arguments: ["server", "--port", String(port), "--idle-timeout", "30m"],
                           environment: environment, log: scratch.appendingPathComponent("server.log"))
        do {
            try waitForServer(serverURL, server: server)
            // The CLI is the server's client: configure once the server answers.
            try mustRun(dstack, ["local", "configure"], environment: environment)
            try mustRun(dstack, ["autoscale", "allow", "local", "--max", "1"], environment: environment)
            state = try StateStore(home: DstackHome(url: home))
        } catch {
            server.stop()
            throw error
        }
    }

    func stop() {
        server.stop()
        LocalInstanceProcesses.stopAll(home: home)
    }
}

/// Runs a command to its end, timed from just before the spawn to the moment waitpid
/// returns. Foundation's `Process.waitUntilExit` polls a run loop (about every 50 ms on
/// Linux), which would add tens of milliseconds to a 20 ms command. Output goes to a
/// file, read afterwards, so no pipe reader sits between spawn and exit.
func timedSpawn(_ executable: String, _ arguments: [String], environment: [String: String],
                directory: URL? = nil) throws -> (status: Int32, seconds: Double, output: String) {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-bench-out-\(UUID().uuidString)").path
    defer { unlink(outputPath) }
    let command = ChildProcess(running: executable, arguments, environment: environment,
                               workingDirectory: directory?.path, outputPath: outputPath)
    let start = monotonicNanoseconds()
    let status: Int32
    do {
        status = try command.runToExit()
    } catch {
        throw BenchmarkError(error.description)
    }
    let seconds = Double(monotonicNanoseconds() - start) / 1e9
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (status, seconds, output)
}
