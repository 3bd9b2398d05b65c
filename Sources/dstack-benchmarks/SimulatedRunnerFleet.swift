import DstackCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The runners of the local provider's simulated instances (Plugins/Local/SimulatedInstances.swift),
/// all in this process. It watches `$DSTACK_HOME/local/instances/` and, for each instance
/// whose user data appears, runs a runner that speaks the real runner API with what the
/// user data carries: registers with the launch's registration token (retrying while
/// the server says "not yet"), long-polls for an assignment, and for each run posts one
/// stdout line (its start report) and its exit code 0. One keep-alive connection each.
final class SimulatedRunnerFleet: @unchecked Sendable {
    /// What one run looked like from its runner.
    struct Finished: Sendable {
        var runID: String
        var instanceID: String
        /// Wall clock when the assignment reply arrived (the server stamps with the same clock).
        var receivedAt: Date
    }

    private let instancesDirectory: URL
    private let pollWait: Int
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    // `lock` guards everything below: runner tasks report here, the benchmark reads.
    private let lock = NSLock()
    private var started: Set<String> = []
    private var tasks: [Task<Void, Never>] = []
    private var registeredIDs: Set<String> = []
    private var finished: [Finished] = []
    private var failures: [String] = []
    private var stopping = false
    private var watcher: Task<Void, Never>?

    init(home: URL, pollWait: Int = 30) {
        instancesDirectory = home.appendingPathComponent("local/instances")
        self.pollWait = pollWait
    }

    var registered: Int { lock.withLock { registeredIDs.count } }
    var runners: Int { lock.withLock { started.count } }
    var finishedRuns: [Finished] { lock.withLock { finished } }
    var finishedCount: Int { lock.withLock { finished.count } }
    var errors: [String] { lock.withLock { failures } }

    /// Starts watching for instances (every 50 ms).
    func start() {
        watcher = Task { [self] in
            while !Task.isCancelled, !lock.withLock({ stopping }) {
                scan()
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
        }
    }

    /// Stops the watcher and lets every runner end after its current call; the caller
    /// stops the server (which answers long polls at once) and then awaits `finish()`.
    func stop() {
        lock.withLock { stopping = true }
        watcher?.cancel()
    }

    /// Waits for every runner task to end, then releases the event loop.
    func finish() async {
        for task in lock.withLock({ tasks }) { await task.value }
        try? await group.shutdownGracefully()
    }

    private func scan() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: instancesDirectory.path)) ?? []
        for id in names where !lock.withLock({ started.contains(id) }) {
            let userData = instancesDirectory.appendingPathComponent("\(id)/user-data.sh")
            guard let text = try? String(contentsOf: userData, encoding: .utf8) else { continue }
            guard let launch = Self.parse(userData: text) else {
                lock.withLock { failures.append("\(id): user data without a server URL or registration token") }
                continue
            }
            let task = Task { [self] in await runRunner(instanceID: id, launch) }
            lock.withLock {
                started.insert(id)
                tasks.append(task)
            }
        }
    }

    struct Launch: Equatable {
        var host: String
        var port: Int
        var registrationToken: String
    }

    /// The server and registration token a launch's user data (RunnerBootstrap) carries.
    static func parse(userData: String) -> Launch? {
        func quoted(after marker: String) -> String? {
            guard let start = userData.range(of: marker) else { return nil }
            let rest = userData[start.upperBound...]
            return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
        }
        guard let token = quoted(after: "export DSTACK_REGISTRATION_TOKEN='"), let server = quoted(after: "--server '"),
              let url = URLComponents(string: server), let host = url.host, let port = url.port else { return nil }
        return Launch(host: host, port: port, registrationToken: token)
    }

    private func runRunner(instanceID: String, _ launch: Launch) async {
        do {
            try await ScaleHTTPConnection.with(host: launch.host, port: launch.port, group: group) { connection in
                let token = try await register(instanceID, launch, &connection)
                lock.withLock { _ = registeredIDs.insert(instanceID) }
                while !lock.withLock({ stopping }) {
                    let poll = try await connection.send(.GET, RunnerAPI.assignmentPath(instance: instanceID) + "?wait=\(pollWait)",
                                                         bearer: token)
                    if poll.status == 204 { continue }
                    guard poll.status == 200 else { throw BenchmarkError("assignment poll answered \(poll.status): \(poll.body)") }
                    let receivedAt = Date()
                    let assignment = try RunnerAPI.Assignment(json: try JSONValue.parse(poll.body))
                    let logs = try await connection.send(
                        .POST, RunnerAPI.logsPath(instance: instanceID, run: assignment.runID), bearer: token,
                        json: RunnerAPI.LogChunk(attempt: assignment.attempt, stream: .stdout, text: "started \(assignment.runID)\n").json)
                    guard logs.status == 200 else { throw BenchmarkError("log post answered \(logs.status): \(logs.body)") }
                    let exit = try await connection.send(
                        .POST, RunnerAPI.exitPath(instance: instanceID, run: assignment.runID), bearer: token,
                        json: RunnerAPI.RunExit(attempt: assignment.attempt, exitCode: 0).json)
                    guard exit.status == 204 else { throw BenchmarkError("exit post answered \(exit.status): \(exit.body)") }
                    lock.withLock {
                        finished.append(Finished(runID: assignment.runID, instanceID: instanceID, receivedAt: receivedAt))
                    }
                }
            }
        } catch {
            lock.withLock {
                if !stopping { failures.append("runner on \(instanceID): \(error)") }
            }
        }
    }

    /// Registers, retrying every 100 ms while the server answers 503 ("not listed yet").
    private func register(_ instanceID: String, _ launch: Launch, _ connection: inout ScaleHTTPConnection) async throws -> String {
        let request = RunnerAPI.RegisterRequest(instanceID: instanceID, registrationToken: launch.registrationToken)
        for _ in 0..<600 {
            let reply = try await connection.send(.POST, RunnerAPI.registerPath, json: request.json)
            if reply.status == 200 { return try RunnerAPI.RegisterReply(json: try JSONValue.parse(reply.body)).token }
            guard reply.status == 503 else { throw BenchmarkError("registration answered \(reply.status): \(reply.body)") }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        throw BenchmarkError("registration still answered 503 after a minute")
    }
}
