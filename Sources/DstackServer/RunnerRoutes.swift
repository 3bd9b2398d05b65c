import DstackCore
import Foundation
import Hummingbird
import ServiceLifecycle

/// The runner API (see `RunnerAPI`) as Hummingbird routes. Each handler reads the body,
/// checks the token, calls `RunnerService`, and maps its errors to status codes with a
/// one-sentence `{"error": ...}` body. The service's state calls block (SQLite), so they
/// run on NIO's thread pool (`BlockingWork`, `BlockingExecutor`), never on Swift's
/// cooperative threads.
struct RunnerRoutes: RunnerRouteGroup {
    let service: RunnerService
    let wakeReconciler: @Sendable () -> Void
    /// The longest a runner's assignment poll may wait.
    let maxPollWait: TimeInterval = 60

    func add(to router: Router<BasicRequestContext>) {
        router.post(RouterPath(RunnerAPI.registerPath)) { request, _ in
            await respond {
                let registration = try RunnerAPI.RegisterRequest(json: try await body(request))
                let reply = try await BlockingExecutor.run { try await service.register(registration) }
                return .json(reply.json)
            }
        }
        router.get("/api/runners/:instance/assignment") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let wait = request.uri.queryParameters.get("wait").flatMap { Double(String($0)) } ?? 0
                // A server shutting down answers long polls at once ("no work") instead of
                // holding SIGTERM up for as long as a poll may wait.
                let assignment = try await withGracefulShutdownHandler {
                    try await BlockingExecutor.run {
                        try await service.assignment(instanceID: instance, wait: min(max(wait, 0), maxPollWait))
                    }
                } onGracefulShutdown: {
                    service.stopWaiting()
                }
                guard let assignment else { return .noContent }
                return .json(assignment.json)
            }
        }
        router.get("/api/runners/:instance/runs/:run/code") { request, context in
            // Streamed from disk in chunks: an archive of up to --max-code-size is never
            // held in the server's memory whole.
            do {
                let instance = try await authenticated(request, context)
                let runID = try parameter("run", context)
                let path = try await BlockingWork.run { try service.codeArchive(instanceID: instance, runID: runID) }
                let body = try await FileIO(threadPool: .singleton).loadFile(path: path, context: context)
                return Response(status: .ok, headers: [.contentType: "application/gzip"], body: body)
            } catch let error as RunnerServiceError {
                return Self.json(HTTPResponse.Status(code: error.status), RunnerAPI.errorBody(error.description))
            } catch {
                return Self.json(.notFound, RunnerAPI.errorBody("the code archive could not be read: \(error)"))
            }
        }
        router.post("/api/runners/:instance/runs/:run/logs") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let chunk = try RunnerAPI.LogChunk(json: try await body(request))
                let runID = try parameter("run", context)
                let control = try await BlockingWork.run { try service.appendLog(instanceID: instance, runID: runID, chunk: chunk) }
                return .json(control.json)
            }
        }
        router.post("/api/runners/:instance/runs/:run/exit") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let exit = try RunnerAPI.RunExit(json: try await body(request))
                let runID = try parameter("run", context)
                try await BlockingWork.run { try service.finish(instanceID: instance, runID: runID, exit: exit) }
                return .noContent
            }
        }
        router.post("/api/runners/:instance/heartbeat") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let beat = try RunnerAPI.Heartbeat(json: try await body(request))
                return .json(try await BlockingWork.run { try service.heartbeat(instanceID: instance, beat: beat) }.json)
            }
        }
        router.post("/api/runners/:instance/notice") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let notice = try RunnerAPI.SpotNotice(json: try await body(request))
                try await BlockingWork.run { try service.notice(instanceID: instance, notice) }
                return .noContent
            }
        }
        router.post(RouterPath(RunnerAPI.wakePath)) { _, _ in
            wakeReconciler()
            return Response(status: .noContent)
        }
    }

    private enum Reply {
        case json(JSONValue)
        case noContent
    }

    private func respond(_ body: () async throws -> Reply) async -> Response {
        do {
            switch try await body() {
            case .json(let value): return Self.json(.ok, value)
            case .noContent: return Response(status: .noContent)
            }
        } catch {
            return errorReply(error)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized())))
    }
}
