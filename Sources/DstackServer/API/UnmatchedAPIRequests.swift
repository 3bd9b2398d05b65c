import DstackAPI
import Hummingbird

/// What the API answers when no route takes a request under `/api/v1`, in one JSON
/// sentence like every other refusal: a path it serves with another method is a 405 with
/// an `Allow` header naming the methods it does serve; any other path is a 404.
/// Hummingbird's own answer is an empty 404 for both.
struct UnmatchedAPIRequests: RouterMiddleware {
    typealias Context = BasicRequestContext
    /// Each route's path split at "/", a ":name" segment matching any one segment.
    private let routes: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init(methodsByPath: [(path: String, methods: [HTTPRequest.Method])]) {
        routes = methodsByPath.map { ($0.path.split(separator: "/"), $0.methods) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            guard path == APIPaths.prefix || path.hasPrefix(APIPaths.prefix + "/") || path == APIPaths.metrics else { throw error }
            let served = methods(servedAt: path)
            if served.isEmpty {
                return APIRoutes.reply(APIErrorReply(error: "the API has no route \(path); \(APIPaths.openAPI) lists them"),
                                       status: .notFound)
            }
            let allow = served.map(\.rawValue).joined(separator: ", ")
            return APIRoutes.reply(APIErrorReply(error: "\(path) does not take \(request.method.rawValue); it takes \(allow)"),
                                   status: .methodNotAllowed, headers: [.allow: allow])
        }
    }

    /// The methods of every route whose path matches, in registration order.
    func methods(servedAt path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        return routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix(":") || pattern == segment }
        }.flatMap(\.methods)
    }
}
