import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL 15 server of its own for tests: `initdb` in a temporary directory,
/// `pg_ctl start` on a free port of 127.0.0.1, as an unprivileged user (root runs it as
/// `postgres` through `runuser`: Postgres refuses to run as root), password
/// authentication for user `dstack`. `stop()` stops it by its PID and removes the
/// directory. `make test` installs Debian's postgresql-15; a missing one is a failure.
public final class ThrowawayPostgres: @unchecked Sendable { // `lock` guards `stopped` and `currentPID`; the rest is immutable
    public static let binDirectory = "/usr/lib/postgresql/15/bin"
    public let port: Int
    public let user = "dstack"
    public let password: String
    public let directory: URL
    private let lock = NSLock()
    private var stopped = false
    private var currentPID: pid_t = 0
    /// The postmaster's PID (it changes with `restart()`).
    public var pid: pid_t { lock.withLock { currentPID } }

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedServer: ThrowawayPostgres? // guarded by sharedLock

    /// One server for the whole test process, started on first use and stopped when the
    /// process exits.
    public static func shared() throws -> ThrowawayPostgres {
        try sharedLock.withLock {
            if let sharedServer { return sharedServer }
            let server = try ThrowawayPostgres()
            sharedServer = server
            atexit { ThrowawayPostgres.stopShared() }
            return server
        }
    }

    static func stopShared() {
        sharedLock.withLock { sharedServer }?.stop()
    }

    public init() throws {
        guard FileManager.default.isExecutableFile(atPath: "\(Self.binDirectory)/initdb") else {
            throw ThrowawayPostgresError("PostgreSQL 15 is not installed (\(Self.binDirectory)/initdb); `make test` installs Debian's postgresql-15")
        }
        password = "pw-" + UUID().uuidString.prefix(12).lowercased()
        port = try LocalPort.free()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = directory.appendingPathComponent("data").path
        let passwordFile = directory.appendingPathComponent("password")
        try Data(password.utf8).write(to: passwordFile)
        if getuid() == 0 {
            // Postgres refuses root: the directory becomes the postgres user's.
            try Self.run("/bin/chown", ["-R", "postgres:postgres", directory.path])
            try Self.run("/bin/chmod", ["0700", directory.path])
        }
        try Self.runAsPostgres("initdb", ["-D", data, "-U", user, "--pwfile=\(passwordFile.path)", "--auth=scram-sha-256",
                                          "-E", "UTF8", "--locale=C", "--no-sync"])
        try start()
    }

    private func start() throws {
        let data = directory.appendingPathComponent("data").path
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(directory.path)' -c fsync=off -c max_connections=200"
        try Self.runAsPostgres("pg_ctl", ["start", "-w", "-t", "60", "-D", data, "-l", directory.appendingPathComponent("log").path,
                                          "-o", options])
        let pidLine = try String(contentsOfFile: "\(data)/postmaster.pid", encoding: .utf8).split(separator: "\n").first ?? ""
        guard let pid = pid_t(pidLine) else { throw ThrowawayPostgresError("no PID in \(data)/postmaster.pid") }
        lock.withLock { currentPID = pid }
    }

    /// Starts the server again on the same port and data after `pause()`.
    public func restart() throws {
        try start()
    }

    /// Turns TLS on (`ssl=on` with this PEM certificate and key, copied into the
    /// server's directory where only its user reads them) and reloads; plain connections
    /// are still accepted. Returns once a new session sees it.
    public func enableTLS(certificate: String, key: String) throws {
        let certificateCopy = directory.appendingPathComponent("server.crt").path
        let keyCopy = directory.appendingPathComponent("server.key").path
        try Data(contentsOf: URL(fileURLWithPath: certificate)).write(to: URL(fileURLWithPath: certificateCopy))
        try Data(contentsOf: URL(fileURLWithPath: key)).write(to: URL(fileURLWithPath: keyCopy))
        // Postgres refuses a key others can read, and runs as `postgres` under root.
        try Self.run("/bin/chmod", ["0600", certificateCopy, keyCopy])
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", certificateCopy, keyCopy]) }
        try psql("ALTER SYSTEM SET ssl_cert_file = '\(certificateCopy)'")
        try psql("ALTER SYSTEM SET ssl_key_file = '\(keyCopy)'")
        try psql("ALTER SYSTEM SET ssl = on")
        try psql("SELECT pg_reload_conf()")
        let deadline = Date().addingTimeInterval(30)
        while try psql("SHOW ssl") != "on" {
            guard Date() < deadline else { throw ThrowawayPostgresError("ssl=on did not take: \(try psql("SHOW ssl"))") }
            usleep(100_000)
        }
    }

    /// `postgresql://dstack:PASSWORD@127.0.0.1:PORT/NAME`
    public func url(database: String) -> String {
        "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// A new empty database; returns its URL.
    public func makeDatabase(_ prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs SQL with psql, a client independent of dstack's own; returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run("/usr/lib/postgresql/15/bin/psql",
                     ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user,
                      "-d", database, "-c", sql],
                     environment: ["PGPASSWORD": password])
    }

    /// Stops the server (SIGINT: fast shutdown) and waits for it to go, at most 30 s,
    /// then SIGKILL; removes the directory.
    public func stop() {
        let first = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        kill(pid, SIGINT)
        let deadline = Date().addingTimeInterval(30)
        while Self.isAlive(pid) && Date() < deadline { usleep(50_000) }
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server (fast shutdown: every connection is cut) keeping its data, for
    /// tests of a database that goes away; `restart()` brings it back on the same port.
    public func pause() {
        let pid = self.pid
        kill(pid, SIGINT)
        while Self.isAlive(pid) { usleep(20_000) }
    }

    /// Whether `pid` runs: the postmaster is not our child, and where nothing reaps
    /// orphans (a container's PID 1 may not) it stays a zombie, which `kill(pid, 0)`
    /// still finds.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    deinit { stop() }

    @discardableResult
    static func runAsPostgres(_ program: String, _ arguments: [String]) throws -> String {
        if getuid() == 0 {
            return try run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binDirectory)/\(program)"] + arguments)
        }
        return try run("\(binDirectory)/\(program)", arguments)
    }

    /// Runs a program to its end: its output to a file, not a pipe (pg_ctl's postmaster
    /// outlives it and would hold a pipe open), and an empty signal mask (the postmaster
    /// inherits it and must hear SIGINT).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-pg-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let program = ChildProcess(running: executable, arguments,
                                   environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                   outputPath: outputFile)
        let status: Int32
        do {
            status = try program.runToExit()
        } catch {
            throw ThrowawayPostgresError(error.description)
        }
        let text = ((try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else {
            throw ThrowawayPostgresError("\((executable as NSString).lastPathComponent) \(arguments.prefix(2).joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}

public struct ThrowawayPostgresError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
