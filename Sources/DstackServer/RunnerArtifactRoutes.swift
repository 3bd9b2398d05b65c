import DstackCore
import Foundation
import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The runner API's artifact routes (`RunnerAPI+Artifacts.swift`): upload plans, the
/// server's own store (uploads streamed to disk, dep files streamed from it), multipart
/// completion and the manifest. Every route checks the per-instance token first.
struct RunnerArtifactRoutes: RunnerRouteGroup {
    let service: RunnerService
    let artifacts: ArtifactService

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/runners/:instance/runs/:run/artifacts/uploads") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let ask = try RunnerAPI.UploadRequest(json: try await body(request))
                let runID = try parameter("run", context)
                let plan = try await BlockingExecutor.run { try await artifacts.plan(instanceID: instance, runID: runID, ask) }
                return RunnerRoutes.json(.ok, plan.json)
            }
        }
        router.put("/api/runners/:instance/runs/:run/artifacts/file") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let runID = try parameter("run", context)
                let query = request.uri.queryParameters
                func value(_ name: String) throws -> String {
                    guard let text = query.get(name), !text.isEmpty else { throw ArtifactError.badRequest("missing \(name) in the query") }
                    return String(text) // Hummingbird has percent-decoded query values already
                }
                guard let attempt = Int(try value("attempt")), let size = Int(try value("size")) else {
                    throw ArtifactError.badRequest("attempt and size must be whole numbers")
                }
                let path = try value("path")
                let sha256 = try value("sha256")
                let target = try await BlockingWork.run {
                    try artifacts.storeUploadTarget(instanceID: instance, runID: runID, attempt: attempt, path: path,
                                                    size: size, sha256: sha256)
                }
                try await Self.receive(request.body, to: target.incoming, size: size, sha256: sha256, path: path)
                try await BlockingWork.run { try artifacts.store.commit(incoming: target.incoming, to: target.final) }
                return Response(status: .noContent)
            }
        }
        router.post("/api/runners/:instance/runs/:run/artifacts/complete") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let completion = try RunnerAPI.CompleteUpload(json: try await body(request))
                let runID = try parameter("run", context)
                try await BlockingExecutor.run { try await artifacts.complete(instanceID: instance, runID: runID, completion) }
                return Response(status: .noContent)
            }
        }
        router.post("/api/runners/:instance/runs/:run/artifacts/manifest") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let manifest = try RunnerAPI.Manifest(json: try await body(request))
                let runID = try parameter("run", context)
                try await BlockingExecutor.run { try await artifacts.recordManifest(instanceID: instance, runID: runID, manifest) }
                return Response(status: .noContent)
            }
        }
        router.get("/api/runners/:instance/runs/:run/deps") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let runID = try parameter("run", context)
                let files = try await BlockingWork.run { try artifacts.depFiles(instanceID: instance, runID: runID) }
                return RunnerRoutes.json(.ok, files.json)
            }
        }
        router.get("/api/runners/:instance/runs/:run/deps/file") { request, context in
            await respond {
                let instance = try await authenticated(request, context)
                let runID = try parameter("run", context)
                let query = request.uri.queryParameters
                guard let dep = query.get("run").map({ String($0) }), let rawPath = query.get("path").map({ String($0) }) else {
                    throw ArtifactError.badRequest("give run and path in the query")
                }
                let path = rawPath
                let stored = try await BlockingWork.run {
                    try artifacts.depStorePath(instanceID: instance, runID: runID, depRunID: dep, path: path)
                }
                // Streamed from disk in chunks, never whole in the server's memory.
                let body = try await FileIO(threadPool: .singleton).loadFile(path: stored, context: context)
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
            }
        }
    }

    /// Writes a request body to `incoming` as it arrives (1 MiB at a time, on the thread
    /// pool), hashing it on the way: a 1 GiB artifact never sits in the server's memory.
    /// A body of another size or hash is refused and nothing is kept.
    static func receive(_ body: RequestBody, to incoming: String, size: Int, sha256: String, path: String) async throws {
        let file = try await BlockingWork.run { () throws -> IncomingFile in try IncomingFile(path: incoming) }
        var kept = false
        defer { if !kept { file.discard() } }
        let digest = SHA256Digest()
        var received = 0
        var pending = ByteBuffer()
        for try await buffer in body {
            received += buffer.readableBytes
            guard received <= size else { throw ArtifactError.badRequest("the body of \(path) is longer than its \(size) bytes") }
            buffer.withUnsafeReadableBytes { digest.update($0) }
            var chunk = buffer
            pending.writeBuffer(&chunk)
            if pending.readableBytes >= 1 << 20 {
                let full = pending
                pending = ByteBuffer()
                try await BlockingWork.run { try file.write(full) }
            }
        }
        if pending.readableBytes > 0 {
            let rest = pending
            try await BlockingWork.run { try file.write(rest) }
        }
        guard received == size else {
            throw ArtifactError.badRequest("the body of \(path) is \(received) bytes, not \(size); send it again")
        }
        let actual = digest.finalHex()
        guard actual == sha256 else {
            throw ArtifactError.badRequest("the body of \(path) hashes to \(actual), not \(sha256); send it again")
        }
        try await BlockingWork.run { try file.close() }
        kept = true
    }

    private func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            return errorReply(error)
        }
    }
}

/// An upload being written: a file descriptor closed exactly once, by `close` or
/// `discard` (which also removes the file).
final class IncomingFile: @unchecked Sendable { // `lock` guards `fd`
    let path: String
    private let lock = NSLock()
    private var fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArtifactError.storage("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    func write(_ buffer: ByteBuffer) throws {
        try lock.withLock {
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ArtifactError.storage("cannot write \(path): \(String(cString: strerror(errno)))")
                    }
                    offset += n
                }
            }
        }
    }

    func close() throws {
        try lock.withLock {
            guard fd >= 0 else { return }
            let failed = fsync(fd) != 0
            Glibc.close(fd)
            fd = -1
            if failed { throw ArtifactError.storage("cannot write \(path): \(String(cString: strerror(errno)))") }
        }
    }

    func discard() {
        lock.withLock {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
            unlink(path)
        }
    }
}
