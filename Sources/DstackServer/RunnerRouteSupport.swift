import DstackCore
import Foundation
import Hummingbird
import NIOCore

/// What every runner API route group does the same way: the per-instance token checked
/// first, path parameters, a JSON body of bounded size, and one mapping from errors to
/// replies, so that a runner hears 503 (and retries) for the same outages on every route.
protocol RunnerRouteGroup: Sendable {
    var service: RunnerService { get }
}

extension RunnerRouteGroup {
    /// The instance in the path, once its bearer token is checked.
    func authenticated(_ request: Request, _ context: BasicRequestContext) async throws -> String {
        let instance = try parameter("instance", context)
        let authorization = request.headers[.authorization]
        let service = service
        try await BlockingWork.run { try service.authenticate(instanceID: instance, authorization: authorization) }
        return instance
    }

    func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let value = context.parameters.get(name), !value.isEmpty else {
            throw RunnerServiceError.badRequest("missing \(name) in the path")
        }
        return value
    }

    func body(_ request: Request) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: 4 << 20)
        do {
            return try JSONValue.parse(String(buffer: buffer))
        } catch let error as JSONParseError {
            throw RunnerServiceError.badRequest("the body is not valid JSON (\(error))")
        }
    }

    /// The reply for a route's error, with the runner API's error body.
    func errorReply(_ error: Error) -> Response {
        switch error {
        case let error as RunnerServiceError:
            return RunnerRoutes.json(HTTPResponse.Status(code: error.status), RunnerAPI.errorBody(error.description))
        case let error as ArtifactError:
            return RunnerRoutes.json(HTTPResponse.Status(code: error.status), RunnerAPI.errorBody(error.description))
        case let error as JSONDecodingError:
            return RunnerRoutes.json(.badRequest, RunnerAPI.errorBody("malformed request: \(error.description)"))
        case let error as APIShapeError:
            return RunnerRoutes.json(.badRequest, RunnerAPI.errorBody("malformed request: \(error.description)"))
        case let error as ProviderError:
            return RunnerRoutes.json(.serviceUnavailable, RunnerAPI.errorBody(error.userMessage))
        case let error as StateError:
            // The database is out of reach (or failed): the runner retries.
            return RunnerRoutes.json(.serviceUnavailable, RunnerAPI.errorBody(error.description))
        case let error as DstackWire.HTTPError:
            return RunnerRoutes.json(.serviceUnavailable, RunnerAPI.errorBody("could not reach the bucket: \(error.description)"))
        default:
            return RunnerRoutes.json(.internalServerError, RunnerAPI.errorBody(String(describing: error)))
        }
    }
}
