import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Uploads a run's artifacts after its commands end: each file streamed from disk to
/// where the server says (its own store, or presigned bucket URLs; over 64 MiB as a
/// multipart upload whose parts go out `partsInFlight` at a time, `MultipartSender`),
/// with its SHA-256 (read 1 MiB at a time: first for a small file, alongside the parts
/// for a big one). Failures are retried with backoff: 5xx and dropped connections as
/// they are, expired URLs with fresh ones from the server. The manifest goes last,
/// complete or not, with the reason.
struct ArtifactUploader {
    let transfer: ArtifactTransfer
    let lifetime: Lifetime
    /// A line for the run's log.
    let note: (String) -> Void
    /// True once the run was stopped: a stopped run uploads nothing more.
    let stopped: () -> Bool
    /// Failed requests in a row a file (or a multipart upload's part) may have before
    /// the file is given up.
    var maxFailures = 10
    /// A multipart upload's parts sent at once. Each is streamed from disk, so more cost
    /// sockets, not memory (runner peak RSS 34 MiB at 16); against moto on the quiet
    /// machine 16 brought the 1 GiB upload from 1.02x `aws s3 cp`'s time to 0.99x.
    var partsInFlight = 16
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
        // A file big enough to go multipart is hashed while its parts go out; a smaller
        // one first (one PUT, and the server's store checks the hash as it writes).
        let hashing = size > Int64(RunnerAPI.multipartThreshold) ? BackgroundHash(fd: fd, size: size) : nil
        defer { hashing?.cancelAndWait() } // runs before close(fd)
        var sha256: String?
        if hashing == nil { sha256 = try FileHashing.sha256(fd: fd, size: size) }
        var failures = 0
        var delays = backoff
        var plan: RunnerAPI.UploadPlan?
        while true {
            if stopped() || lifetime.isStopped { throw Failure(description: "the run was stopped") }
            let ask = RunnerAPI.UploadRequest(attempt: attempt, path: file.path, size: Int(size), sha256: sha256)
            let outcome: ArtifactTransfer.TransferOutcome
            if plan == nil {
                let (asked, given) = transfer.uploadPlan(runID: runID, ask)
                plan = given
                outcome = asked
            } else if let url = plan?.url, let sha256 {
                outcome = transfer.put(url: url, fd: fd, offset: 0, length: size)
                if case .ok = outcome { return RunnerAPI.ManifestFile(path: file.path, size: Int(size), sha256: sha256) }
            } else if let given = plan, given.uploadID != nil {
                let sender = MultipartSender(transfer: transfer, fd: fd, size: size, plan: given,
                                             refresh: { transfer.uploadPlan(runID: runID, ask) },
                                             lifetime: lifetime, stopped: stopped, maxFailures: maxFailures, backoff: backoff)
                let sent = try sender.send(concurrency: partsInFlight)
                let digest = try sha256 ?? hashing!.result()
                let completion = RunnerAPI.CompleteUpload(
                    attempt: attempt, path: file.path, uploadID: sent.uploadID,
                    parts: sent.etags.sorted { $0.key < $1.key }.map { RunnerAPI.UploadedPart(partNumber: $0.key, etag: $0.value) })
                try retrying("completing the upload of \(file.path)") { transfer.complete(runID: runID, completion) }
                return RunnerAPI.ManifestFile(path: file.path, size: Int(size), sha256: digest)
            } else if sha256 == nil, let hashing {
                // The server's store takes the hash with the request: wait for it, ask again.
                sha256 = try hashing.result()
                plan = nil
                continue
            } else {
                throw Failure(description: "the server's upload plan names neither a URL nor an upload")
            }
            switch outcome {
            case .ok: continue
            case .fail(let reason): throw Failure(description: reason)
            case .refresh(let reason), .retry(let reason):
                if case .refresh = outcome {
                    plan = nil // a fresh URL
                }
                failures += 1
                guard failures < maxFailures else { throw Failure(description: "\(reason) (after \(failures) tries)") }
                lifetime.sleep(delays.nextDelay())
            }
        }
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
