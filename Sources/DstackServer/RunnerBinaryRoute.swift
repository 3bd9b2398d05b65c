import DstackCore
import Foundation
import Hummingbird

/// `GET /api/runners/binary/{architecture}`: the server hands its own runner to the
/// instances it launches, so no download URL is needed. Only a launch batch's
/// registration token opens it; the bootstrap checks the SHA-256 its user data carries.
/// The file is streamed from disk in chunks, never held whole in memory.
struct RunnerBinaryRoute {
    let service: RunnerService
    let binaries: RunnerBinaries

    func add(to router: Router<BasicRequestContext>) {
        let fileIO = FileIO()
        router.get("/api/runners/binary/:architecture") { request, context in
            do {
                let authorization = request.headers[.authorization]
                try await BlockingWork.run { try service.authorizeRunnerDownload(authorization: authorization) }
            } catch let error as RunnerServiceError {
                return RunnerRoutes.json(HTTPResponse.Status(code: error.status), RunnerAPI.errorBody(error.description))
            }
            let architecture = context.parameters.get("architecture") ?? ""
            guard let binary = binaries.byArchitecture[architecture] else {
                return RunnerRoutes.json(.notFound, RunnerAPI.errorBody("this server has no runner for \(architecture)"))
            }
            let body = try await fileIO.loadFile(path: binary.path, context: context)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
        }
    }
}
