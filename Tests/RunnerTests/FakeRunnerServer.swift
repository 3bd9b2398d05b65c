import DstackCore
import DstackTesting
import Foundation

/// A scripted dstack server for the runner: the runner API routes on a LocalHTTPServer,
/// recording every call. Long polls answer 204 quickly so tests do not wait.
final class FakeRunnerServer: @unchecked Sendable {
    static let registrationToken = "reg-token-5f1c0ffee5f1c0ffee"
    static let instanceToken = "inst-token-9a7b0ddba11"

    private let lock = NSLock()
    private var pending: [RunnerAPI.Assignment] = []
    private var _chunks: [(runID: String, chunk: RunnerAPI.LogChunk)] = []
    private var _exits: [(runID: String, exit: RunnerAPI.RunExit)] = []
    private var _heartbeats: [RunnerAPI.Heartbeat] = []
    private var _registrations: [RunnerAPI.RegisterRequest] = []
    private var _notices: [RunnerAPI.SpotNotice] = []
    private var registerFailures: Int
    private var registerRefusal: Int?
    private var _stopRuns: Set<String> = []
    private var codes: [String: [UInt8]] = [:]
    private var server: LocalHTTPServer!

    /// `registerFailures` registrations answer 503 first; `registerRefusal` answers every one with that status.
    init(registerFailures: Int = 0, registerRefusal: Int? = nil) throws {
        self.registerFailures = registerFailures
        self.registerRefusal = registerRefusal
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    var url: String { server.url }
    var requests: [LocalHTTPServer.Request] { server.requests }
    var chunks: [(runID: String, chunk: RunnerAPI.LogChunk)] { lock.withLock { _chunks } }
    var exits: [(runID: String, exit: RunnerAPI.RunExit)] { lock.withLock { _exits } }
    var heartbeats: [RunnerAPI.Heartbeat] { lock.withLock { _heartbeats } }
    var registrations: [RunnerAPI.RegisterRequest] { lock.withLock { _registrations } }
    var notices: [RunnerAPI.SpotNotice] { lock.withLock { _notices } }

    func assign(_ assignment: RunnerAPI.Assignment) { lock.withLock { pending.append(assignment) } }
    /// What `GET .../runs/RUN/code` answers for the run (404 without).
    func serveCode(_ bytes: [UInt8], forRun runID: String) { lock.withLock { codes[runID] = bytes } }
    /// Heartbeats and log replies for this run say `stop: true` from now on.
    func requestStop(runID: String) { lock.withLock { _ = _stopRuns.insert(runID) } }
    func stop() { server.stop() }

    /// The output of a run's stream, in the order the chunks arrived.
    func output(_ runID: String, _ stream: RunnerAPI.LogChunk.Stream = .stdout) -> String {
        chunks.filter { $0.runID == runID && $0.chunk.stream == stream }.map(\.chunk.text).joined()
    }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let path = request.path.split(separator: "?").first.map(String.init) ?? request.path
        if path == RunnerAPI.registerPath { return register(request) }
        guard request.header("Authorization") == "Bearer \(Self.instanceToken)" else {
            return json(401, RunnerAPI.errorBody("a bearer token is required"))
        }
        let parts = path.split(separator: "/").map(String.init) // api runners ID ...
        guard parts.count >= 4 else { return json(404, RunnerAPI.errorBody("no such route")) }
        let body = try? JSONValue.parse(request.body)
        switch (request.method, parts[3]) {
        case ("GET", "assignment"):
            if let next = lock.withLock({ pending.isEmpty ? nil : pending.removeFirst() }) { return json(200, next.json) }
            return LocalHTTPServer.Response(status: 204, delay: 0.2)
        case ("POST", "heartbeat"):
            guard let beat = body.flatMap({ try? RunnerAPI.Heartbeat(json: $0) }) else { return json(400, RunnerAPI.errorBody("bad")) }
            let stop = lock.withLock { () -> Bool in
                _heartbeats.append(beat)
                return beat.runID.map(_stopRuns.contains) ?? false
            }
            return json(200, RunnerAPI.RunControl(stop: stop).json)
        case ("POST", "notice"):
            guard let notice = body.flatMap({ try? RunnerAPI.SpotNotice(json: $0) }) else { return json(400, RunnerAPI.errorBody("bad")) }
            lock.withLock { _notices.append(notice) }
            return LocalHTTPServer.Response(status: 204)
        case ("GET", "runs") where parts.count == 6 && parts[5] == "code":
            guard let bytes = lock.withLock({ codes[parts[4]] }) else { return json(404, RunnerAPI.errorBody("run \(parts[4]) has no code")) }
            var reply = LocalHTTPServer.Response(status: 200, headers: [("Content-Type", "application/gzip")])
            reply.body = bytes
            return reply
        case ("POST", "runs") where parts.count == 6 && parts[5] == "logs":
            guard let chunk = body.flatMap({ try? RunnerAPI.LogChunk(json: $0) }) else { return json(400, RunnerAPI.errorBody("bad")) }
            let stop = lock.withLock { () -> Bool in
                _chunks.append((parts[4], chunk))
                return _stopRuns.contains(parts[4])
            }
            return json(200, RunnerAPI.RunControl(stop: stop).json)
        case ("POST", "runs") where parts.count == 6 && parts[5] == "exit":
            guard let exit = body.flatMap({ try? RunnerAPI.RunExit(json: $0) }) else { return json(400, RunnerAPI.errorBody("bad")) }
            lock.withLock { _exits.append((parts[4], exit)) }
            return LocalHTTPServer.Response(status: 204)
        default:
            return json(404, RunnerAPI.errorBody("no such route"))
        }
    }

    private func register(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        guard let json = try? JSONValue.parse(request.body), let registration = try? RunnerAPI.RegisterRequest(json: json) else {
            return self.json(400, RunnerAPI.errorBody("bad"))
        }
        let outcome: Int = lock.withLock {
            _registrations.append(registration)
            if let registerRefusal { return registerRefusal }
            if registerFailures > 0 {
                registerFailures -= 1
                return 503
            }
            return registration.registrationToken == Self.registrationToken ? 200 : 401
        }
        guard outcome == 200 else { return self.json(outcome, RunnerAPI.errorBody("refused by the fake server")) }
        return self.json(200, RunnerAPI.RegisterReply(token: Self.instanceToken, instanceID: registration.instanceID).json)
    }

    private func json(_ status: Int, _ body: JSONValue) -> LocalHTTPServer.Response {
        LocalHTTPServer.Response(status: status, headers: [("Content-Type", "application/json")], body: body.serialized())
    }
}

/// Polls `condition` until it holds or `timeout` passes; the test asserts the outcome.
@discardableResult
func waitUntil(timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { return false }
        usleep(20_000)
    }
    return true
}
