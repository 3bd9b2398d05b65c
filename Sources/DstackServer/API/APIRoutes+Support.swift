import DstackAPI
import DstackCore
import DstackWire
import Foundation
import Hummingbird

extension APIRoutes {
    /// Authenticates the bearer token, checks the role, runs `body`, and turns its result
    /// or its error into a JSON reply. Nothing runs for a caller who may not call.
    func respond<Reply: Encodable>(_ request: Request, admin: Bool = false, status: HTTPResponse.Status = .ok,
                                   _ body: (Caller) async throws -> Reply) async -> Response {
        do {
            let caller = try await authenticate(request)
            if admin, !caller.isAdmin {
                throw APIRequestError.forbidden("this needs an admin token; user '\(caller.name)' is not an admin")
            }
            let reply = try await body(caller)
            if Reply.self == NoContent.self { return Response(status: .noContent) }
            return Self.reply(reply, status: status)
        } catch {
            let (code, sentence) = Self.refusal(error)
            return Self.reply(APIErrorReply(error: sentence), status: HTTPResponse.Status(code: code))
        }
    }

    func authenticate(_ request: Request) async throws -> Caller {
        // The bearer header, or the web page's session cookie (Web/SessionCookie.swift).
        let token = try SessionCookie.credential(of: request)
        // A token checked within the last second is believed without a blocking call.
        var user = control.users.recentUser(token: token)
        if user == nil { user = try await BlockingWork.run { [control] in try control.users.user(token: token) } }
        guard let user else { throw APIRequestError.unauthorized("the token is not valid") }
        return Caller(name: user.name, isAdmin: user.role == "admin")
    }

    func decode<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try Self.requireContentType(request, ["application/json"])
        var request = request
        let buffer = try await request.collectBody(upTo: Self.maxBody)
        do {
            var decoder = JSONValueDecoder()
            decoder.rejectsUnknownKeys = true
            return try decoder.decode(Body.self, from: String(buffer: buffer))
        } catch let error as JSONParseError {
            throw APIRequestError.badRequest("the body is not valid JSON (\(error))")
        } catch let error as JSONDecodingError {
            throw APIRequestError.badRequest("malformed request: \(error.description)")
        }
    }

    /// A body is read only as what its Content-Type says it is: JSON sent as text/plain
    /// (or as nothing) is refused, not guessed at. Parameters such as charset are ignored.
    static func requireContentType(_ request: Request, _ accepted: [String]) throws {
        let given = request.headers[.contentType] ?? ""
        let mediaType = given.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        guard accepted.contains(mediaType) else {
            let said = given.isEmpty ? "no Content-Type" : "Content-Type \(given)"
            throw APIRequestError.unsupportedMediaType("this route takes a body of Content-Type \(accepted.joined(separator: " or ")), not \(said)")
        }
    }

    func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name), !raw.isEmpty else {
            throw APIRequestError.badRequest("missing \(name) in the path")
        }
        return raw.removingPercentEncoding ?? raw
    }

    /// A query value that must be a whole number from 0 to `maximum`; nil when absent.
    static func number(_ text: String?, name: String, maximum: Int = Int.max) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0, value <= maximum else {
            let range = maximum == Int.max ? "of 0 or more" : "from 0 to \(maximum)"
            throw APIRequestError.badRequest("\(name) must be a whole number \(range), got '\(text)'")
        }
        return value
    }

    /// A query value that must be `true` or `false`; false when absent.
    static func flag(_ text: String?, name: String) throws -> Bool {
        switch text {
        case nil, "false": return false
        case "true": return true
        case let text?: throw APIRequestError.badRequest("\(name) must be true or false, got '\(text)'")
        }
    }

    static func reply<Reply: Encodable>(_ value: Reply, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let text: String
        do {
            text = try JSONValueEncoder.api.encode(value).serialized()
        } catch {
            return Response(status: .internalServerError, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"error":"the reply could not be encoded"}"#)))
        }
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The status and the one sentence for each error the control plane can meet. A
    /// cloud that fails is a 503 (try again); a request the cloud or dstack refuses, a 4xx.
    static func refusal(_ error: Error) -> (Int, String) {
        switch error {
        case let error as APIRequestError: return (error.status, error.description)
        case let error as ProviderError:
            switch error {
            case .unsupportedInstanceType, .invalidConfiguration, .notImplemented, .invalidCredentials, .accessDenied:
                return (400, error.userMessage)
            default: return (503, error.userMessage)
            }
        case let error as WorkspaceError:
            if case .unknownVendor = error { return (404, error.description) }
            return (409, error.description)
        case let error as LaunchError:
            if case .unknownInstance = error { return (404, error.description) }
            return (409, error.description)
        case let error as ConfigureError: return (400, error.description)
        case let error as RunnerDeliveryError: return (409, error.description)
        case let error as CodeShippingError: return (400, error.description)
        case let error as ArtifactError: return (error.status, error.description)
        case let error as ConfigError: return (500, error.description)
        case let error as StateError: return (503, error.description)
        case let error as DstackWire.HTTPError: return (503, "could not reach the cloud: \(error.description)")
        case let error as HTTPResponseError where error.status == .contentTooLarge:
            // Hummingbird's NIOTooManyBytesError, from collectBody(upTo:).
            return (413, "the request body is too large: a route takes at most \(APIRoutes.maxBody >> 20) MiB of JSON, or \(APIRoutes.maxCodeArchive >> 30) GiB of code archive")
        default:
            return (500, "internal error: \(error)")
        }
    }
}
