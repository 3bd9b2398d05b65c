import DstackWire
import Foundation

/// The runner's side of the runner API (`RunnerAPI`), over blocking libcurl calls on
/// the caller's thread. It holds the per-instance token in memory only and puts it on
/// every call after registration; each answer from the server counts as contact for
/// the dead man's switch.
public final class RunnerAPIClient: @unchecked Sendable {
    public let serverURL: String
    public let instanceID: String
    public let contact: ContactClock
    let log: RunnerLog
    let lifetime: Lifetime
    /// Long polls need a total timeout beyond the poll wait; other calls are short.
    private let pollHTTP: CurlHTTPClient
    let callHTTP: CurlHTTPClient
    /// Code archives can be large (up to the submitter's --max-code-size) and links slow.
    private let codeHTTP: CurlHTTPClient
    private let pollWait: TimeInterval
    /// The server certificate's pin, for the artifact transfers' own client.
    let serverPin: String?
    private let lock = NSLock()
    private var token: String?

    public init(serverURL: String, instanceID: String, pollWait: TimeInterval, contact: ContactClock,
                log: RunnerLog, lifetime: Lifetime, serverPin: String? = nil) {
        self.serverURL = serverURL.hasSuffix("/") ? String(serverURL.dropLast()) : serverURL
        self.instanceID = instanceID
        self.pollWait = pollWait
        self.contact = contact
        self.log = log
        self.lifetime = lifetime
        self.serverPin = serverPin
        let proxy = ProxySettings.fromEnvironment(ProcessInfo.processInfo.environment)
        pollHTTP = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: pollWait + 15, proxy: proxy,
                                                 pinnedPublicKey: serverPin))
        callHTTP = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 20, proxy: proxy, pinnedPublicKey: serverPin))
        codeHTTP = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: 900, proxy: proxy, pinnedPublicKey: serverPin))
    }

    public enum Registration: Equatable {
        case registered
        /// A final refusal (401, 403, 409, or another 4xx): retrying cannot change it.
        case rejected(status: Int, reason: String)
        case stopped
    }

    /// Registers, retrying transport failures and 5xx until the server answers for good.
    public func register(registrationToken: String) -> Registration {
        let body = RunnerAPI.RegisterRequest(instanceID: instanceID, registrationToken: registrationToken).json
        guard let reply = deliver(post(RunnerAPI.registerPath, body, authorized: false), what: "registration") else { return .stopped }
        guard reply.status == 200 else { return .rejected(status: reply.status, reason: Self.errorSentence(reply)) }
        let registered: RunnerAPI.RegisterReply
        do {
            registered = try RunnerAPI.RegisterReply(json: try JSONValue.parse(reply.body))
        } catch {
            return .rejected(status: reply.status, reason: "the registration reply is not one this runner understands (\(error))")
        }
        log.addSecret(registered.token)
        lock.withLock { token = registered.token }
        return .registered
    }

    public enum PollError: Error, Equatable, CustomStringConvertible {
        case unreachable(String)
        case status(Int, String)

        public var description: String {
            switch self {
            case .unreachable(let detail): return detail
            case .status(let status, let reason): return "the server answered \(status): \(reason)"
            }
        }
    }

    /// One long poll: the assignment, or nil when the wait ran out with nothing to do.
    public func pollAssignment() -> Result<RunnerAPI.Assignment?, PollError> {
        let url = serverURL + RunnerAPI.assignmentPath(instance: instanceID) + "?wait=\(Int(pollWait.rounded(.up)))"
        let reply: HTTPResponse
        do { reply = try pollHTTP.sendBlocking(HTTPRequest(method: "GET", url: url, headers: authorization())) } catch {
            return .failure(.unreachable("\(error)"))
        }
        switch reply.status {
        case 204:
            contact.recordContact()
            return .success(nil)
        case 200:
            let assignment: RunnerAPI.Assignment
            do {
                assignment = try RunnerAPI.Assignment(json: try JSONValue.parse(reply.body))
            } catch {
                return .failure(.status(200, "the assignment is not one this runner understands (\(error))"))
            }
            contact.recordContact()
            return .success(assignment)
        default:
            return .failure(.status(reply.status, Self.errorSentence(reply)))
        }
    }

    /// Sends a chunk until the server takes it; nil when it refused it for good (the
    /// chunk is then dropped: no retry could deliver it) or the runner stopped.
    public func sendLog(runID: String, chunk: RunnerAPI.LogChunk) -> RunnerAPI.RunControl? {
        let request = post(RunnerAPI.logsPath(instance: instanceID, run: runID), chunk.json, authorized: true)
        guard let reply = deliver(request, what: "log chunk") else { return nil }
        return control(reply, what: "log chunk of run \(runID)")
    }

    /// Reports the exit code until it lands; false when the server refused it for good.
    @discardableResult
    public func reportExit(runID: String, exit: RunnerAPI.RunExit) -> Bool {
        let request = post(RunnerAPI.exitPath(instance: instanceID, run: runID), exit.json, authorized: true)
        guard let reply = deliver(request, what: "exit report") else { return false }
        guard (200..<300).contains(reply.status) else {
            log("the server refused the exit report of run \(runID) (\(reply.status)): \(Self.errorSentence(reply))")
            return false
        }
        return true
    }

    /// One heartbeat, not retried: the next one comes an interval later.
    public func heartbeat(_ beat: RunnerAPI.Heartbeat) -> Result<RunnerAPI.RunControl, PollError> {
        let request = post(RunnerAPI.heartbeatPath(instance: instanceID), beat.json, authorized: true)
        let reply: HTTPResponse
        do { reply = try callHTTP.sendBlocking(request) } catch { return .failure(.unreachable("\(error)")) }
        guard reply.status == 200 else { return .failure(.status(reply.status, Self.errorSentence(reply))) }
        contact.recordContact()
        do {
            return .success(try RunnerAPI.RunControl(json: try JSONValue.parse(reply.body)))
        } catch {
            return .failure(.status(200, "the heartbeat reply is not one this runner understands (\(error))"))
        }
    }

    /// Reports a spot notice until the server has it; false when it refused it for good
    /// (or the runner stopped).
    @discardableResult
    public func reportNotice(_ notice: RunnerAPI.SpotNotice) -> Bool {
        let request = post(RunnerAPI.noticePath(instance: instanceID), notice.json, authorized: true)
        guard let reply = deliver(request, what: "\(notice.kind.rawValue) notice") else { return false }
        guard (200..<300).contains(reply.status) else {
            log("the server refused the \(notice.kind.rawValue) notice (\(reply.status)): \(Self.errorSentence(reply))")
            return false
        }
        return true
    }

    /// The run's code archive, as bytes. Transport failures and 5xx are retried a few
    /// times; a refusal (403, 404) is final.
    public func downloadCode(runID: String, attempts: Int = 3) -> Result<[UInt8], PollError> {
        let request = HTTPRequest(method: "GET", url: serverURL + RunnerAPI.codePath(instance: instanceID, run: runID),
                                  headers: authorization())
        var backoff = Backoff()
        var failure = PollError.unreachable("no attempt was made")
        for attempt in 1...max(1, attempts) {
            do {
                let reply = try codeHTTP.sendBlocking(request)
                if reply.status == 200 {
                    contact.recordContact()
                    return .success(reply.body)
                }
                failure = .status(reply.status, Self.errorSentence(reply))
                if reply.status < 500 { return .failure(failure) }
            } catch {
                failure = .unreachable("\(error)")
            }
            if attempt < attempts, !lifetime.isStopped { lifetime.sleep(backoff.nextDelay()) }
        }
        return .failure(failure)
    }

    // MARK: - Plumbing

    func authorization() -> [HTTPHeader] {
        lock.withLock { token.map { [RunnerAPI.authorization($0)] } ?? [] }
    }

    private func post(_ path: String, _ body: JSONValue, authorized: Bool) -> HTTPRequest {
        HTTPRequest(method: "POST", url: serverURL + path,
                    headers: [HTTPHeader("Content-Type", "application/json")] + (authorized ? authorization() : []),
                    body: body.serialized())
    }

    /// Sends until the server gives an answer that is not worth retrying: transport
    /// failures, 5xx and 429 are retried with backoff. nil when the runner stopped.
    private func deliver(_ request: HTTPRequest, what: String) -> HTTPResponse? {
        var backoff = Backoff()
        var complained = false
        while !lifetime.isStopped {
            let problem: String
            do {
                let reply = try callHTTP.sendBlocking(request)
                if reply.status < 500 && reply.status != 429 {
                    if reply.status < 300 || reply.status == 404 { contact.recordContact() }
                    if complained { log("\(what) went through") }
                    return reply
                }
                problem = "the server answered \(reply.status)"
            } catch {
                problem = "\(error)"
            }
            // One line when trouble starts, not one per retry: a long outage must not fill the disk.
            if !complained { log("\(what) failed, retrying: \(problem)") }
            complained = true
            lifetime.sleep(backoff.nextDelay())
        }
        return nil
    }

    private func control(_ reply: HTTPResponse, what: String) -> RunnerAPI.RunControl? {
        guard reply.status == 200 else {
            log("the server refused a \(what) (\(reply.status)): \(Self.errorSentence(reply))")
            return nil
        }
        do {
            return try RunnerAPI.RunControl(json: try JSONValue.parse(reply.body))
        } catch {
            // The server took the request; only its answer is unreadable. The run goes on
            // (the next heartbeat asks again), and the log says why nothing stopped it.
            log("the server's reply to a \(what) is not one this runner understands: \(error)")
            return RunnerAPI.RunControl(stop: false)
        }
    }

    static func errorSentence(_ reply: HTTPResponse) -> String {
        if let json = try? JSONValue.parse(reply.body), let sentence = json["error"]?.stringValue { return sentence }
        return reply.body.isEmpty ? "no reason given" : String(reply.bodyText.prefix(200))
    }
}
