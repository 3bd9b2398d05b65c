import DstackCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection to the server, on SwiftNIO's event loops: a
/// thousand of them cost a thousand sockets, not a thousand threads (the project's
/// libcurl client blocks a thread per request, which a thousand long polls would
/// starve). Requests go one at a time, as a runner makes them.
struct ScaleHTTPConnection {
    struct Reply {
        var status: Int
        var body: String
    }

    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private let host: String

    /// Connects to `host:port` and runs `body` with the connection; closes it afterwards.
    static func with<T: Sendable>(host: String, port: Int, group: EventLoopGroup,
                                  _ body: (inout ScaleHTTPConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = ScaleHTTPConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, host: host)
            return try await body(&connection)
        }
    }

    /// Sends one request and reads its whole reply.
    mutating func send(_ method: HTTPMethod, _ path: String, bearer: String? = nil, json: JSONValue? = nil) async throws -> Reply {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: host)
        if let bearer { head.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let body = json.map { ByteBuffer(string: $0.serialized()) }
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if method == .POST {
            head.headers.add(name: "Content-Length", value: "0")
        }
        try await outbound.write(.head(head))
        if let body { try await outbound.write(.body(.byteBuffer(body))) }
        try await outbound.write(.end(nil))

        var status = 0
        var collected = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let response): status = Int(response.status.code)
            case .body(var chunk): collected.writeBuffer(&chunk)
            case .end: return Reply(status: status, body: String(buffer: collected))
            }
        }
        throw BenchmarkError("the server closed the connection before replying to \(method) \(path)")
    }
}
