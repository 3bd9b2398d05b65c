import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts the `dstack server` of this `DSTACK_HOME` in the background when none answers,
/// so that `dstack aws configure` and `dstack autoscale allow` work with no other step,
/// as in the seed. A lock makes ten CLIs started at once start exactly one server; the
/// rest wait for it. The server listens on port 3000 when that is free, else on any free
/// port, and writes where in server.json, so two homes never talk to each other's server.
enum LocalServerStarter {
    static let startTimeout: TimeInterval = 60
    static let logFileName = "server.log"

    static func ensureRunning(_ home: DstackHome) async throws -> LocalServerRecord {
        if let record = LocalServerRecord.running(home), await answers(record) { return record }
        try home.prepare()
        let lock = try StartLock(home: home)
        defer { withExtendedLifetime(lock) {} }
        // Another CLI may have started it while this one waited for the lock.
        if let record = LocalServerRecord.running(home), await answers(record) { return record }
        if let record = LocalServerRecord.running(home) {
            // A server of this home is up but not answering yet (still starting): wait for
            // it. Should it exit instead (it was stopping, or server.json was stale), this
            // CLI starts one of its own.
            do {
                return try await waitForServer(home, pid: record.pid)
            } catch is StartFailure {}
        }
        var port = portIsFree(3000) ? 3000 : 0
        for attempt in 0..<2 {
            let pid = try spawn(home: home, port: port)
            do {
                return try await waitForServer(home, pid: pid)
            } catch let error as StartFailure where error.portInUse && attempt == 0 {
                port = 0 // another program took 3000 between the check and the bind
            }
        }
        throw CLIError("the dstack server could not be started; see \(home.url.appendingPathComponent(logFileName).path)")
    }

    /// Whether the server answers its health route (and so its API) right now.
    static func answers(_ record: LocalServerRecord) async -> Bool {
        let client = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 3, pinnedPublicKey: record.pin))
        let reply = try? await client.send(HTTPRequest(method: "GET", url: record.localURL + APIPaths.health))
        return reply?.status == 200
    }

    private static func waitForServer(_ home: DstackHome, pid: Int32) async throws -> LocalServerRecord {
        let deadline = Date().addingTimeInterval(startTimeout)
        while Date() < deadline {
            if let record = LocalServerRecord.running(home), record.pid == pid, await answers(record) { return record }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH) {
                let last = lastLogLine(home)
                throw StartFailure(message: "the dstack server for \(home.path) exited as it started"
                    + (last.map { ": \($0)" } ?? "") + "; see \(home.url.appendingPathComponent(logFileName).path)",
                                   portInUse: last?.contains("is in use") ?? false)
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw CLIError("the dstack server for \(home.path) did not answer within \(Int(startTimeout)) s; see \(home.url.appendingPathComponent(logFileName).path)")
    }

    /// `dstack server --port P` in a new session (no terminal, no SIGHUP), output appended
    /// to DSTACK_HOME/server.log, holding none of this CLI's descriptors: a pipe the CLI's
    /// caller reads to its end would otherwise stay open for as long as the server runs.
    private static func spawn(home: DstackHome, port: Int) throws -> Int32 {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var environment = ProcessInfo.processInfo.environment
        environment["DSTACK_HOME"] = home.path
        environment.removeValue(forKey: "DSTACK_SERVER_URL")
        let server = ChildProcess(executable: executable, arguments: ["server", "--port", String(port)],
                                     environment: environment, workingDirectory: nil,
                                     logPath: home.url.appendingPathComponent(logFileName).path,
                                     reapsWhenItExits: false)
        do {
            return try server.spawn()
        } catch {
            throw CLIError("could not start '\(executable) server': \(error.reason)")
        }
    }

    private static func lastLogLine(_ home: DstackHome) -> String? {
        guard let text = try? String(contentsOf: home.url.appendingPathComponent(logFileName), encoding: .utf8) else { return nil }
        return text.split(separator: "\n").last.map { String($0).replacingOccurrences(of: "dstack: ", with: "") }
    }

    static func portIsFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    struct StartFailure: Error, CustomStringConvertible {
        var message: String
        var portInUse: Bool
        var description: String { message }
    }

    /// `DSTACK_HOME/server-start.lock`: one starter at a time. flock is dropped by the
    /// kernel however the CLI dies.
    final class StartLock {
        private let descriptor: Int32

        init(home: DstackHome) throws {
            let path = home.url.appendingPathComponent("server-start.lock").path
            descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
            guard flock(descriptor, LOCK_EX) == 0 else {
                close(descriptor)
                throw CLIError("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }

        deinit { close(descriptor) }
    }
}
