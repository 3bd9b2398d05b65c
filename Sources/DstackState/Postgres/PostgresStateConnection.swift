import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

/// One PostgresNIO connection used synchronously: each statement's future is awaited by
/// blocking the calling thread. The server calls state only from its blocking threads
/// (NIO's thread pool), never from an event loop, where blocking would deadlock.
final class PostgresStateConnection: StateConnection, @unchecked Sendable { // one borrower at a time: the pool hands it to one transaction
    let dialect = SQLDialect.postgres
    let connection: PostgresConnection
    private(set) var changes = 0
    /// Set once a statement failed for a reason that leaves the connection unusable.
    private(set) var broken = false
    private static let logger = Logger(label: "dstack.state.postgres")

    private init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Whatever path let go of it, the connection is closed (PostgresNIO asserts that a
    /// connection is never released open).
    deinit {
        if !connection.isClosed { abandon() }
    }

    static func connect(_ url: DatabaseURL, id: Int, timeout: TimeInterval = 10) throws -> PostgresStateConnection {
        try refuseEventLoop()
        let tls = try url.postgresTLS()
        let eventLoop = PostgresConnection.defaultEventLoopGroup.any()
        do {
            // The socket is ours (PostgresNIO takes an established channel): its options
            // let the kernel find a database that vanished without closing it.
            let channel = try Self.await(Self.bootstrap(on: eventLoop, timeout: timeout).connect(host: url.host, port: url.port),
                                         timeout: timeout + 1)
            var configuration = PostgresConnection.Configuration(establishedChannel: channel, tls: tls, username: url.user,
                                                                 password: url.password, database: url.database)
            // The name verify-full checks and SNI sends (an IP address is checked against
            // the certificate's IP entries instead, and never sent).
            if !url.isIPAddressHost { configuration.options.tlsServerName = url.host }
            configuration.options.connectTimeout = .milliseconds(Int64(timeout * 1000))
            let connecting = PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
            let connection: PostgresConnection
            do {
                connection = try Self.await(connecting, timeout: timeout + 5)
            } catch {
                // Given up on (the event loop was slow): a connection that still arrives
                // is closed, never dropped open.
                connecting.whenSuccess { late in late.close().whenComplete { _ in withExtendedLifetime(late) {} } }
                channel.close(promise: nil)
                throw error
            }
            return PostgresStateConnection(connection: connection)
        } catch {
            throw PostgresFailure(error, url: url)
        }
    }

    /// TCP keepalive (first probe after 5 s idle, then every 2 s, 3 unanswered: dead) and
    /// a user timeout (data unacknowledged for 10 s: dead), so neither an idle pooled
    /// connection nor a statement in flight waits on a peer that is gone.
    private static func bootstrap(on eventLoop: any EventLoop, timeout: TimeInterval) -> ClientBootstrap {
        let tcp = SocketOptionLevel(IPPROTO_TCP)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.Types.SocketOption(level: tcp, name: SocketOptionName(TCP_KEEPIDLE)), value: 5)
            .channelOption(ChannelOptions.Types.SocketOption(level: tcp, name: SocketOptionName(TCP_KEEPINTVL)), value: 2)
            .channelOption(ChannelOptions.Types.SocketOption(level: tcp, name: SocketOptionName(TCP_KEEPCNT)), value: 3)
            .channelOption(ChannelOptions.Types.SocketOption(level: tcp, name: SocketOptionName(TCP_USER_TIMEOUT)), value: 10_000)
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        try Self.refuseEventLoop()
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let i): binds.append(i)
            case .real(let d): binds.append(d)
            case .text(let s): binds.append(s)
            }
        }
        let query = PostgresQuery(unsafeSQL: SQLDialect.postgresPlaceholders(sql), binds: binds)
        let result: PostgresQueryResult
        do {
            result = try Self.await(connection.query(query, logger: Self.logger), timeout: 20)
        } catch {
            let failure = PostgresFailure(error, url: nil)
            if failure.meansUnavailable { broken = true }
            throw failure
        }
        changes = result.metadata.rows ?? 0
        return try result.rows.map { row in try row.map(Self.value) }
    }

    func execute(_ sql: String) throws {
        for statement in SQLDialect.statements(sql) { try query(statement, []) }
    }

    func close() {
        _ = try? Self.await(connection.close(), timeout: 5)
    }

    /// Closes without waiting: for a connection that failed, whose peer may never answer.
    /// The connection lives until its channel has closed (PostgresNIO insists on it).
    func abandon() {
        let connection = self.connection
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Blocks this (non-event-loop) thread for a future's result, at most `timeout`
    /// seconds: a database that stops answering is a failure, never a hang.
    static func await<T: Sendable>(_ future: EventLoopFuture<T>, timeout: TimeInterval) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.set(result)
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success, let result = box.get() else {
            throw PostgresTimeout(seconds: timeout)
        }
        return try result.get()
    }

    var isClosed: Bool { broken || connection.isClosed }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard let bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        // SUM over BIGINT is NUMERIC in Postgres (an integer in SQLite): a whole one
        // reads as an integer, as both dialects' callers expect.
        case .numeric:
            let number = try cell.decode(Decimal.self)
            let whole = NSDecimalNumber(decimal: number).int64Value
            if Decimal(whole) == number { return .integer(whole) }
            return .real(NSDecimalNumber(decimal: number).doubleValue)
        // Text in binary format is its UTF-8; anything else (void) reads as its bytes.
        default: return .text(String(buffer: bytes))
        }
    }

    /// Blocking an event loop on its own future never returns: refuse loudly instead.
    private static func refuseEventLoop() throws {
        if MultiThreadedEventLoopGroup.currentEventLoop != nil {
            throw StateError.failed(path: "postgresql", reason: "state was called from an event loop; call it from a blocking thread")
        }
    }
}

/// A future's result handed from an event loop to the waiting thread; `lock` guards it.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
    func get() -> Result<T, any Error>? { lock.withLock { result } }
}

struct PostgresTimeout: Error, CustomStringConvertible {
    var seconds: TimeInterval
    var description: String { "the database did not answer within \(Int(seconds)) s" }
}

/// A Postgres error as one sentence (never the password), and whether it means the
/// database is out of reach rather than a statement was wrong.
struct PostgresFailure: Error, CustomStringConvertible {
    var description: String
    var meansUnavailable: Bool
    var meansAuthentication = false
    var sqlState: String?

    init(sentence: String, unavailable: Bool = false) {
        description = sentence
        meansUnavailable = unavailable
    }

    init(_ error: any Error, url: DatabaseURL?) {
        let place = url.map { " (\($0))" } ?? ""
        if let failure = error as? PostgresFailure {
            self = failure
            return
        }
        if let tls = Self.tls(error, url: url) {
            self = tls
            return
        }
        guard let psql = error as? PSQLError else {
            description = "cannot reach the database\(place): \(Self.plain(error))"
            meansUnavailable = true
            return
        }
        sqlState = psql.serverInfo?[.sqlState]
        let message = psql.serverInfo?[.message] ?? "\(psql.code)"
        switch psql.code {
        case .server:
            let state = sqlState ?? ""
            meansAuthentication = state == "28P01" || state == "28000"
            // 08: connection exception; 57P0x: the server is shutting down or starting.
            meansUnavailable = state.hasPrefix("08") || state.hasPrefix("57P")
            if meansAuthentication {
                description = "the database refused the user name or password\(place)"
            } else if state == "3D000" {
                description = "the database does not exist\(place): \(message)"
            } else {
                description = "the database failed\(place): \(message)"
            }
        default:
            meansUnavailable = true
            let underlying = psql.underlying.map { ": \(Self.plain($0))" } ?? ""
            description = "cannot reach the database\(place) (\(psql.code))\(underlying)"
        }
    }

    private static func plain(_ error: any Error) -> String {
        "\(error)".replacingOccurrences(of: "\n", with: " ")
    }
}
