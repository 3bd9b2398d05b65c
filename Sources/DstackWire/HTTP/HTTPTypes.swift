/// One HTTP request. Header names keep the caller's case; the body is raw bytes.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(method: String = "GET", url: String, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public init(method: String, url: String, headers: [HTTPHeader] = [], body: String) {
        self.init(method: method, url: url, headers: headers, body: Array(body.utf8))
    }
}

public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// The final response's headers (after any `100 Continue` or proxy `CONNECT` reply).
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// True when the request went over a connection kept alive from an earlier one.
    public var reusedConnection: Bool

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = [], reusedConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reusedConnection = reusedConnection
    }

    /// The first header with this name, compared without case.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A request that produced no HTTP response at all.
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case timedOut(url: String, detail: String)
    case couldNotConnect(url: String, detail: String)
    case tls(url: String, detail: String)
    case invalidURL(String)
    case other(url: String, detail: String)

    public var description: String {
        switch self {
        case .timedOut(let url, let detail): return "timed out talking to \(url): \(detail)"
        case .couldNotConnect(let url, let detail): return "could not connect to \(url): \(detail)"
        case .tls(let url, let detail): return "TLS failed with \(url): \(detail)"
        case .invalidURL(let url): return "not a usable http(s) URL: \(url)"
        case .other(let url, let detail): return "HTTP request to \(url) failed: \(detail)"
        }
    }
}

/// What sends HTTP requests. The core's implementation is `CurlHTTPClient`; tests may
/// put a fault-injecting transport in its place.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}
