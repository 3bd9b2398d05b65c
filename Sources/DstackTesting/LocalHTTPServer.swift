import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for tests: each connection gets a thread, keeps
/// alive between requests, and every request goes to the handler. Tests use it to check
/// the HTTP client and to inject faults (throttling, 5xx, slow or malformed replies)
/// that a real emulator cannot produce.
public final class LocalHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        /// The request target as sent: a path with query, or an absolute URL via a proxy.
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// Wait this long before answering (for timeout tests).
        public var delay: TimeInterval
        /// Close the connection without answering (for transport-failure tests).
        public var dropConnection: Bool

        public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: String = "",
                    delay: TimeInterval = 0, dropConnection: Bool = false) {
            self.status = status
            self.headers = headers
            self.body = Array(body.utf8)
            self.delay = delay
            self.dropConnection = dropConnection
        }
    }

    public typealias Handler = @Sendable (Request) -> Response

    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let handler: Handler
    private let lock = NSLock()
    private var stopped = false
    private var openSockets: Set<Int32> = []
    private var _connectionsAccepted = 0
    private var _requests: [Request] = []

    /// Every connection the server accepted so far (to check keep-alive reuse).
    public var connectionsAccepted: Int { lock.withLock { _connectionsAccepted } }
    /// Every request received so far, in order.
    public var requests: [Request] { lock.withLock { _requests } }

    public init(handler: @escaping Handler) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ServerError("bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting and closes every open connection.
    public func stop() {
        // Only the first call closes anything: closing a descriptor twice would close
        // whatever file the process opened under that number in between.
        let sockets: Set<Int32>? = lock.withLock {
            if stopped { return nil }
            stopped = true
            return openSockets
        }
        guard let sockets else { return }
        // Wakes the accept loop, which closes the listener itself as it leaves.
        shutdown(listener, Int32(SHUT_RDWR))
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR && !lock.withLock({ stopped }) { continue }
                return
            }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                _connectionsAccepted += 1
                openSockets.insert(client)
                return true
            }
            guard accepted else { close(client); return }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ socket: Int32) {
        defer {
            lock.withLock { _ = openSockets.remove(socket) }
            close(socket)
        }
        var buffer: [UInt8] = []
        while let request = readRequest(socket, &buffer) {
            lock.withLock { _requests.append(request) }
            let response = handler(request)
            if response.delay > 0 { Thread.sleep(forTimeInterval: response.delay) }
            if response.dropConnection { return }
            var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
            for header in response.headers { head += "\(header.name): \(header.value)\r\n" }
            if !response.headers.contains(where: { $0.name.lowercased() == "content-length" }) {
                head += "Content-Length: \(response.body.count)\r\n"
            }
            head += "\r\n"
            guard writeAll(socket, Array(head.utf8) + response.body) else { return }
            if request.header("connection")?.lowercased() == "close" { return }
        }
    }

    /// Reads one request (head and Content-Length body); nil at end of stream.
    private func readRequest(_ socket: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            headEnd = Self.find(separator, in: buffer)
            if headEnd == nil { guard readMore(socket, &buffer) else { return nil } }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let headers: [(name: String, value: String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length { guard readMore(socket, &buffer) else { return nil } }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
    }

    private func readMore(_ socket: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    private func writeAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    public struct ServerError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
