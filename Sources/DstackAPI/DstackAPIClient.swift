import DstackWire
import Foundation

/// A client of the `/api/v1` API: the CLI's only way to the state and the cloud. Every
/// failure is one `APIClientError` sentence that names the server and what to do.
public struct DstackAPIClient: Sendable {
    public var endpoint: ServerEndpointSettings
    /// Where to go when the endpoint refuses the connection: the CLI trusts the local
    /// server's server.json without a health check of its own (a round trip saved on
    /// every command), and this finds or starts the server when that record was stale.
    /// A refused connection means the request was never sent, so sending it again is safe.
    public var reconnect: (@Sendable () async throws -> ServerEndpointSettings)?
    private let totalTimeout: TimeInterval
    private let http: CurlHTTPClient
    private let encoder = JSONValueEncoder.api
    private let decoder = JSONValueDecoder()

    public init(endpoint: ServerEndpointSettings, totalTimeout: TimeInterval = 120,
                reconnect: (@Sendable () async throws -> ServerEndpointSettings)? = nil) {
        self.endpoint = endpoint
        self.totalTimeout = totalTimeout
        self.reconnect = reconnect
        // The server's own certificate may be self-signed: its pin stands in for a CA.
        http = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: totalTimeout, pinnedPublicKey: endpoint.pin))
    }

    public func get<Reply: Decodable>(_ path: String, query: [String: String] = [:], as: Reply.Type = Reply.self) async throws -> Reply {
        try decode(Reply.self, try await send("GET", path, query: query, body: nil))
    }

    public func post<Body: Encodable, Reply: Decodable>(_ path: String, _ body: Body, as: Reply.Type = Reply.self) async throws -> Reply {
        try decode(Reply.self, try await send("POST", path, body: try encoder.encode(body).serialized()))
    }

    public func put<Body: Encodable, Reply: Decodable>(_ path: String, _ body: Body, as: Reply.Type = Reply.self) async throws -> Reply {
        try decode(Reply.self, try await send("PUT", path, body: try encoder.encode(body).serialized()))
    }

    public func delete<Reply: Decodable>(_ path: String, as: Reply.Type = Reply.self) async throws -> Reply {
        try decode(Reply.self, try await send("DELETE", path, body: nil))
    }

    /// Uploads raw bytes (a code archive); the reply body is ignored.
    public func upload(_ path: String, bytes: [UInt8], contentType: String) async throws {
        _ = try await send("PUT", path, body: nil, raw: bytes, contentType: contentType)
    }

    private func send(_ method: String, _ path: String, query: [String: String] = [:], body: String?,
                      raw: [UInt8]? = nil, contentType: String = "application/json") async throws -> HTTPResponse {
        var url = endpoint.url + path
        if !query.isEmpty {
            url += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\(APIPaths.escaped($0.value))" }.joined(separator: "&")
        }
        var headers = [HTTPHeader("Accept", "application/json")]
        if let token = endpoint.token { headers.append(HTTPHeader("Authorization", "Bearer \(token)")) }
        let bytes = raw ?? body.map { Array($0.utf8) } ?? []
        if raw != nil || body != nil { headers.append(HTTPHeader("Content-Type", contentType)) }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, url: url, headers: headers, body: bytes))
        } catch HTTPError.couldNotConnect(_, _) where reconnect != nil {
            let again = DstackAPIClient(endpoint: try await reconnect!(), totalTimeout: totalTimeout)
            return try await again.send(method, path, query: query, body: body, raw: raw, contentType: contentType)
        } catch let error as HTTPError {
            throw APIClientError.unreachable(url: endpoint.url, detail: error.description)
        }
        guard (200..<300).contains(response.status) else {
            let message = (try? decoder.decode(APIErrorReply.self, from: response.bodyText))?.error
            switch response.status {
            case 401: throw APIClientError.unauthorized(url: endpoint.url, message: message)
            case 403: throw APIClientError.forbidden(message: message ?? "this needs an admin token")
            default: throw APIClientError.refused(status: response.status, message: message ?? response.bodyText)
            }
        }
        return response
    }

    private func decode<Reply: Decodable>(_ type: Reply.Type, _ response: HTTPResponse) throws -> Reply {
        if Reply.self == NoContent.self { return NoContent() as! Reply }
        do {
            return try decoder.decode(Reply.self, from: response.bodyText)
        } catch {
            throw APIClientError.badReply(url: endpoint.url, detail: "\(error)")
        }
    }
}

/// The reply of a route that answers with no body worth reading.
public struct NoContent: Codable, Sendable, Equatable {
    public init() {}
}

/// Where the CLI finds its server, and with which token.
public struct ServerEndpointSettings: Sendable, Equatable {
    public var url: String
    public var token: String?
    /// The SHA-256 pin of a self-signed server certificate (from server.json).
    public var pin: String?

    public init(url: String, token: String?, pin: String? = nil) {
        self.url = url
        self.token = token
        self.pin = pin
    }
}

public enum APIClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreachable(url: String, detail: String)
    case unauthorized(url: String, message: String?)
    case forbidden(message: String)
    case refused(status: Int, message: String)
    case badReply(url: String, detail: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let detail):
            return "the dstack server at \(url) did not answer (\(detail)); start it with 'dstack server', or set DSTACK_SERVER_URL to a running one"
        case .unauthorized(let url, _):
            return "the dstack server at \(url) did not accept the token (401); set DSTACK_TOKEN or run 'dstack login --url URL --token TOKEN' with a token from 'dstack users add'"
        case .forbidden(let message):
            return "\(message) (403)"
        case .refused(_, let message):
            return message
        case .badReply(let url, let detail):
            return "the dstack server at \(url) sent a reply this dstack cannot read (\(detail)); are the CLI and the server the same version?"
        }
    }
}
