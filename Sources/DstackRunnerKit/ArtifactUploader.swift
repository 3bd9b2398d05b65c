import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Uploads a run's artifacts after its commands end: each file hashed (SHA-256, read
/// from disk 1 MiB at a time), then streamed from disk to where the server says (its
/// own store, or presigned bucket URLs; over 64 MiB as a multipart upload). Failures
/// are retried with backoff: 5xx and dropped connections as they are, expired URLs with
/// fresh ones from the server. The manifest goes last, complete or not, with the reason.
struct ArtifactUploader {
    let transfer: ArtifactTransfer
    let lifetime: Lifetime
    /// A line for the run's log.
    let note: (String) -> Void
    /// True once the run was stopped: a stopped run uploads nothing more.
    let stopped: () -> Bool
    /// Failed requests a file may have before it is given up.
    var maxFailures = 10
    var backoff = Backoff(base: 0.5, cap: 15)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Uploads and writes the manifest; returns the line that ends the run's log.
    func upload(paths: [String], from directory: String, runID: String, attempt: Int) -> String? {
        let found = ArtifactFiles.collect(paths, in: directory)
        found.notes.forEach(note)
        var uploaded: [RunnerAPI.ManifestFile] = []
        var problems: [String] = []
        for file in found.files {
            if stopped() || lifetime.isStopped { return nil }
            do {
                uploaded.append(try upload(file, runID: runID, attempt: attempt))
            } catch {
                problems.append("\(file.path): \(error)")
                note("artifact '\(file.path)' was not uploaded: \(error)")
            }
        }
        if stopped() || lifetime.isStopped { return nil }
        let reason = problems.isEmpty ? nil
            : "\(problems.count) of \(found.files.count) files failed to upload; the first: \(problems[0])"
        let manifest = RunnerAPI.Manifest(attempt: attempt, complete: problems.isEmpty, reason: reason, files: uploaded)
        do {
            try retrying("writing the manifest") { transfer.manifest(runID: runID, manifest) }
        } catch {
            return "artifacts: incomplete (the manifest could not be written: \(error))"
        }
        if let reason { return "artifacts: incomplete (\(reason))" }
        let bytes = uploaded.reduce(0) { $0 + $1.size }
        return "artifacts: complete (\(uploaded.count) file\(uploaded.count == 1 ? "" : "s"), \(ByteCount.text(bytes)))"
    }

    private func upload(_ file: ArtifactFiles.File, runID: String, attempt: Int) throws -> RunnerAPI.ManifestFile {
        let fd = open(file.source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw Failure(description: "it is no longer a regular file") }
        let size = Int64(info.st_size)
        let sha256 = try Self.sha256(fd: fd, size: size)
        let ask = RunnerAPI.UploadRequest(attempt: attempt, path: file.path, size: Int(size), sha256: sha256)
        var failures = 0
        var delays = backoff
        var plan: RunnerAPI.UploadPlan?
        var etags: [Int: String] = [:]
        var uploadInProgress: String?
        while true {
            if stopped() || lifetime.isStopped { throw Failure(description: "the run was stopped") }
            let outcome: ArtifactTransfer.TransferOutcome
            if plan == nil {
                let (asked, given) = transfer.uploadPlan(runID: runID, ask)
                // Parts sent to another upload do not count toward this one.
                if given?.uploadID != nil, given?.uploadID != uploadInProgress { etags = [:] }
                uploadInProgress = given?.uploadID ?? uploadInProgress
                plan = given
                outcome = asked
            } else if let url = plan?.url {
                outcome = transfer.put(url: url, fd: fd, offset: 0, length: size)
                if case .ok = outcome { return RunnerAPI.ManifestFile(path: file.path, size: Int(size), sha256: sha256) }
            } else if let plan, let uploadID = plan.uploadID {
                outcome = sendParts(plan, fd: fd, size: size, etags: &etags)
                if case .ok = outcome {
                    let completion = RunnerAPI.CompleteUpload(
                        attempt: attempt, path: file.path, uploadID: uploadID,
                        parts: etags.sorted { $0.key < $1.key }.map { RunnerAPI.UploadedPart(partNumber: $0.key, etag: $0.value) })
                    try retrying("completing the upload of \(file.path)") { transfer.complete(runID: runID, completion) }
                    return RunnerAPI.ManifestFile(path: file.path, size: Int(size), sha256: sha256)
                }
            } else {
                throw Failure(description: "the server's upload plan names neither a URL nor an upload")
            }
            switch outcome {
            case .ok: continue
            case .fail(let reason): throw Failure(description: reason)
            case .refresh(let reason), .retry(let reason):
                if case .refresh = outcome {
                    plan = nil // fresh URLs (the same multipart upload goes on)
                }
                failures += 1
                guard failures < maxFailures else { throw Failure(description: "\(reason) (after \(failures) tries)") }
                lifetime.sleep(delays.nextDelay())
            }
        }
    }

    /// Sends the parts that have no ETag yet; `.ok` once every part has one.
    private func sendParts(_ plan: RunnerAPI.UploadPlan, fd: Int32, size: Int64,
                           etags: inout [Int: String]) -> ArtifactTransfer.TransferOutcome {
        guard plan.partSize > 0 else { return .fail("the server's upload plan has no part size") }
        for part in plan.parts where etags[part.partNumber] == nil {
            if stopped() || lifetime.isStopped { return .fail("the run was stopped") }
            let offset = Int64(part.partNumber - 1) * Int64(plan.partSize)
            let length = min(Int64(plan.partSize), size - offset)
            guard length > 0 else { return .fail("the upload plan's part \(part.partNumber) lies past the file's end") }
            let outcome = transfer.put(url: part.url, fd: fd, offset: offset, length: length)
            guard case .ok(let reply) = outcome else { return outcome }
            guard let etag = reply.header("ETag"), !etag.isEmpty else { return .retry("part \(part.partNumber) got no ETag") }
            etags[part.partNumber] = etag
        }
        return .ok(HTTPResponse(status: 200))
    }

    /// A JSON call retried like a transfer; throws its last reason when it never lands.
    private func retrying(_ what: String, _ call: () -> ArtifactTransfer.TransferOutcome) throws {
        var delays = backoff
        for failure in 1...maxFailures {
            switch call() {
            case .ok: return
            case .fail(let reason): throw Failure(description: reason)
            case .retry(let reason), .refresh(let reason):
                if failure == maxFailures || lifetime.isStopped { throw Failure(description: "\(what): \(reason)") }
                lifetime.sleep(delays.nextDelay())
            }
        }
    }

    /// The file's SHA-256, read 1 MiB at a time.
    static func sha256(fd: Int32, size: Int64) throws -> String {
        let digest = SHA256Digest()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < size {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(size - offset)), off_t(offset)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "it could not be read whole (it shrank while being read?)") }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            offset += Int64(n)
        }
        return digest.finalHex()
    }
}

/// Sizes for people: `512 B`, `1.5 KB`, `2.0 GB` (powers of 1024), as `ByteSize.format` writes them
/// (the runner links no DstackProject).
public enum ByteCount {
    public static func text(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
