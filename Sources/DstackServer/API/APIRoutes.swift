import DstackAPI
import DstackCore
import Foundation
import Hummingbird

/// The `/api/v1` routes over Hummingbird. Each checks the bearer token and the role
/// first, decodes its body with the project's Codable coder (a bad value is a 400 with
/// one sentence, never a default), calls the ControlPlane, and encodes the reply.
struct APIRoutes {
    let control: ControlPlane
    /// The page and /metrics (Web/APIRoutes+Web.swift).
    var web = WebOptions()
    static let maxBody = 1 << 20
    static let maxCodeArchive = 2 << 30

    /// Registers every route and returns them as "METHOD /path" (OpenAPIDocumentTests holds
    /// the list against the document).
    @discardableResult
    func add(to router: Router<BasicRequestContext>) -> [String] {
        let routes = RouteList(router: router)
        routes.on(.get, APIPaths.health) { _, _ in
            Self.reply(await control.health())
        }
        routes.on(.get, APIPaths.openAPI) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }
        routes.on(.get, APIPaths.me) { request, _ in
            await respond(request) { caller in
                UserInfo(name: caller.name, role: caller.isAdmin ? .admin : .user,
                         createdAt: try control.users.state.read { try $0.user(named: caller.name)?.createdAt } ?? Date())
            }
        }
        addAutoscale(to: routes)
        addRuns(to: routes)
        addArtifacts(to: routes)
        addInstances(to: routes)
        addVendorsAndUsers(to: routes)
        addWeb(to: routes)
        // Last, so that it sees only the requests no route took.
        router.add(middleware: UnmatchedAPIRequests(methodsByPath: routes.methodsByPath))
        return routes.registered
    }

    private func addAutoscale(to routes: RouteList) {
        routes.on(.get, APIPaths.autoscale) { request, _ in
            await respond(request) { _ in try await control.autoscaleInfo() }
        }
        routes.on(.put, APIPaths.rules + "/:instance_type") { request, context in
            await respond(request, admin: true) { _ in
                let body = try await decode(AllowRequest.self, request)
                return try await control.allow(instanceType: try parameter("instance_type", context), max: body.max,
                                                   onRebalance: body.onRebalance)
            }
        }
        routes.on(.delete, APIPaths.rules) { request, _ in
            await respond(request, admin: true) { _ in try await control.clear() }
        }
        routes.on(.post, APIPaths.disable) { request, _ in
            await respond(request, admin: true) { _ in try await control.setEnabled(false) }
        }
        routes.on(.post, APIPaths.enable) { request, _ in
            await respond(request, admin: true) { _ in try await control.setEnabled(true) }
        }
    }

    private func addRuns(to routes: RouteList) {
        routes.on(.post, APIPaths.runs) { request, _ in
            await respond(request, status: .created) { caller in
                try await control.submit(try await decode(RunSubmission.self, request), by: caller)
            }
        }
        routes.on(.get, APIPaths.runs) { request, _ in
            await respond(request) { caller in
                let limit = try Self.number(request.uri.queryParameters.get("limit").map { String($0) }, name: "limit", maximum: 100_000)
                if limit == 0 { throw APIRequestError.badRequest("limit must be a whole number from 1 to 100000, got '0'") }
                return try await control.runs(all: try Self.flag(request.uri.queryParameters.get("all").map { String($0) }, name: "all"),
                                              limit: limit, by: caller)
            }
        }
        routes.on(.get, APIPaths.runs + "/:run") { request, context in
            await respond(request) { caller in
                try await control.infoWithArtifacts([try await control.run(try parameter("run", context), by: caller)])[0]
            }
        }
        routes.on(.get, APIPaths.runs + "/:run/logs") { request, context in
            await respond(request) { caller in
                let query = request.uri.queryParameters
                let after = try Self.number(query.get("after").map { String($0) }, name: "after") ?? 0
                let wait = try Self.number(query.get("wait").map { String($0) }, name: "wait", maximum: ControlPlane.longestLogWait) ?? 0
                return try await control.logs(try parameter("run", context), after: after, wait: TimeInterval(wait), by: caller)
            }
        }
        routes.on(.post, APIPaths.runs + "/:run/stop") { request, context in
            await respond(request) { caller in try await control.stop(try parameter("run", context), by: caller) }
        }
        routes.on(.put, APIPaths.code + "/:sha256") { request, context in
            await respond(request) { _ in
                try Self.requireContentType(request, ["application/gzip", "application/octet-stream"])
                var request = request
                let buffer = try await request.collectBody(upTo: Self.maxCodeArchive)
                try await BlockingWork.run { [control] in
                    try control.storeCode(sha256: try parameter("sha256", context), bytes: Array(buffer: buffer))
                }
                return NoContent()
            }
        }
    }

    private func addInstances(to routes: RouteList) {
        routes.on(.get, APIPaths.instances) { request, _ in
            await respond(request) { _ in try await control.instances() }
        }
        routes.on(.post, APIPaths.instanceRequests) { request, _ in
            await respond(request, admin: true, status: .created) { _ in
                try await control.requestInstances(try await decode(InstanceRequest.self, request))
            }
        }
        routes.on(.post, APIPaths.terminateInstances) { request, _ in
            await respond(request, admin: true) { _ in
                try await control.terminate(try await decode(TerminateRequest.self, request).ids)
            }
        }
    }

    private func addVendorsAndUsers(to routes: RouteList) {
        routes.on(.get, APIPaths.vendors) { request, _ in
            await respond(request, admin: true) { _ in try control.vendors() }
        }
        routes.on(.get, APIPaths.vendors + "/:vendor") { request, context in
            await respond(request, admin: true) { _ in try control.vendor(try parameter("vendor", context)) }
        }
        routes.on(.put, APIPaths.vendors + "/:vendor") { request, context in
            await respond(request, admin: true) { _ in
                try await control.configure(try parameter("vendor", context), try await decode(ConfigureVendorRequest.self, request))
            }
        }
        routes.on(.get, APIPaths.users) { request, _ in
            await respond(request, admin: true) { _ in try control.listUsers() }
        }
        routes.on(.post, APIPaths.users) { request, _ in
            await respond(request, admin: true, status: .created) { _ in
                try control.addUser(try await decode(NewUserRequest.self, request))
            }
        }
        routes.on(.delete, APIPaths.users + "/:name") { request, context in
            await respond(request, admin: true) { _ in
                try control.removeUser(try parameter("name", context))
                return NoContent()
            }
        }
    }
}

/// A router that remembers what was registered on it.
final class RouteList: @unchecked Sendable { // used only while routes are added, on one task
    let router: Router<BasicRequestContext>
    private(set) var registered: [String] = []
    /// The methods of each path, in the order the paths were registered.
    private(set) var methodsByPath: [(path: String, methods: [HTTPRequest.Method])] = []

    init(router: Router<BasicRequestContext>) {
        self.router = router
    }

    func on(_ method: HTTPRequest.Method, _ path: String,
            use handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
        registered.append("\(method.rawValue) \(path)")
        if let index = methodsByPath.firstIndex(where: { $0.path == path }) {
            methodsByPath[index].methods.append(method)
        } else {
            methodsByPath.append((path, [method]))
        }
        router.on(RouterPath(path), method: method, use: handler)
    }
}
