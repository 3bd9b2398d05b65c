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

    private func authenticate(_ request: Request) async throws -> Caller {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else {
            throw APIRequestError.unauthorized("a bearer token is required (Authorization: Bearer TOKEN)")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let user = try await BlockingWork.run { [control] in try control.users.user(token: token) }
        guard let user else { throw APIRequestError.unauthorized("the token is not valid") }
        return Caller(name: user.name, isAdmin: user.role == "admin")
    }

    func decode<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        var request = request
        let buffer = try await request.collectBody(upTo: Self.maxBody)
        do {
            return try JSONValueDecoder().decode(Body.self, from: String(buffer: buffer))
        } catch let error as JSONParseError {
            throw APIRequestError.badRequest("the body is not valid JSON (\(error))")
        } catch let error as JSONDecodingError {
            throw APIRequestError.badRequest("malformed request: \(error.description)")
        }
    }

    func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name), !raw.isEmpty else {
            throw APIRequestError.badRequest("missing \(name) in the path")
        }
        return raw.removingPercentEncoding ?? raw
    }

    static func number(_ text: String?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw APIRequestError.badRequest("\(name) must be a whole number of 0 or more, got '\(text)'")
        }
        return value
    }

    static func reply<Reply: Encodable>(_ value: Reply, status: HTTPResponse.Status = .ok) -> Response {
        let text: String
        do {
            text = try JSONValueEncoder.api.encode(value).serialized()
        } catch {
            return Response(status: .internalServerError, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"error":"the reply could not be encoded"}"#)))
        }
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
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
        case let error as ConfigError: return (500, error.description)
        case let error as StateError: return (503, error.description)
        case let error as DstackWire.HTTPError: return (503, "could not reach the cloud: \(error.description)")
        default:
            if "\(error)".contains("tooLarge") || "\(error)".contains("PayloadTooLarge") {
                return (413, "the request body is too large")
            }
            return (500, "internal error: \(error)")
        }
    }
}
