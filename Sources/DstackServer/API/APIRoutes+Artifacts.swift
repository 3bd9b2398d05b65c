import DstackAPI
import DstackCore
import Foundation
import Hummingbird

extension APIRoutes {
    func addArtifacts(to routes: RouteList) {
        routes.on(.get, APIPaths.runs + "/:run/artifacts") { request, context in
            await respond(request) { caller in try await control.artifactList(try parameter("run", context), by: caller) }
        }
        routes.on(.get, APIPaths.runs + "/:run/artifacts/downloads") { request, context in
            await respond(request) { caller in
                let path = request.uri.queryParameters.get("path").map { String($0) } // percent-decoded already
                return try await control.artifactDownloads(try parameter("run", context), path: path, by: caller)
            }
        }
        routes.on(.get, APIPaths.runs + "/:run/artifacts/file") { request, context in
            await fileReply(request, context)
        }
    }

    /// One file of the server's store, streamed from disk; `Range: bytes=N-` resumes a
    /// download (206 with the rest, or 416 when nothing is left).
    private func fileReply(_ request: Request, _ context: BasicRequestContext) async -> Response {
        do {
            let caller = try await authenticate(request)
            let run = try await control.run(try parameter("run", context), by: caller)
            guard let raw = request.uri.queryParameters.get("path") else { throw APIRequestError.badRequest("give the file's path in the query") }
            let path = String(raw)
            let (stored, size) = try await BlockingWork.run { [control] in
                let stored = try control.artifacts.storedFile(of: run, path: path)
                return (stored, control.artifacts.store.storedSize(stored) ?? 0)
            }
            let io = FileIO(threadPool: .singleton)
            if let from = Self.rangeStart(request.headers[.range]) {
                guard from < size else {
                    return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(size)"])
                }
                let body = try await io.loadFile(path: stored, range: from...(size - 1), context: context)
                return Response(status: .partialContent,
                                headers: [.contentType: "application/octet-stream", .contentRange: "bytes \(from)-\(size - 1)/\(size)"],
                                body: body)
            }
            let body = try await io.loadFile(path: stored, context: context)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
        } catch {
            let (code, sentence) = Self.refusal(error)
            return Self.reply(APIErrorReply(error: sentence), status: HTTPResponse.Status(code: code))
        }
    }

    /// `bytes=N-` → N; any other range is answered with the whole file.
    static func rangeStart(_ header: String?) -> Int? {
        guard let header, header.hasPrefix("bytes="), header.hasSuffix("-") else { return nil }
        return Int(header.dropFirst(6).dropLast()).flatMap { $0 >= 0 ? $0 : nil }
    }
}
