import Foundation

/// Where a run's artifacts go and come from, for both of the server's faces: the runner
/// API (a runner asks, per file, where to upload; it writes the manifest last; it asks
/// for its deps' files) and the `/api/v1` API (list, download). With a vendor bucket the
/// runner gets presigned URLs and never a credential; otherwise, and always on the local
/// provider, the server keeps the files itself (`ArtifactStore`).
public final class ArtifactService: Sendable {
    public let workspace: Workspace
    public let store: ArtifactStore
    /// Completions under way or done, so that a runner asking again joins the same one.
    let completions = MultipartCompletions()
    /// How long a presigned URL works. An upload that outlives it asks again.
    public static let urlLifetime = 3600

    public init(workspace: Workspace) {
        self.workspace = workspace
        store = ArtifactStore(home: workspace.home)
    }

    // MARK: where files go

    /// The active vendor's bucket; nil when it names none, and on a provider whose
    /// instances run on this machine (they reach the server's store directly).
    public func activeBucket() throws -> (any ArtifactBucket)? {
        let configuration = try workspace.configuration()
        guard let vendor = configuration.activeVendor, let plugin = workspace.registry.plugin(named: vendor),
              !plugin.instancesRunOnThisMachine else { return nil }
        return try plugin.makeArtifactBucket(configuration.providers[vendor] ?? [:], try workspace.context())
    }

    /// The bucket a run's files went to, which must still be the configured one.
    func bucket(for location: String, runID: String) throws -> any ArtifactBucket {
        guard let bucket = try activeBucket(), bucket.displayName == location else {
            throw ArtifactError.storage("the artifacts of run \(runID) are in \(location), which the configured vendor no longer names; configure that bucket again to reach them")
        }
        return bucket
    }

    /// A multipart upload's smallest part: S3 takes 5 MiB at least (but for the last);
    /// 16 MiB parts let a runner keep several in flight on a file just over the 64 MiB
    /// threshold, and a part that fails costs little to send again.
    public static let minimumPartSize = 16 << 20

    /// Parts of at least `minimumPartSize`, whole MiB, and no more than S3's 10,000 of them.
    public static func partSize(for size: Int) -> Int {
        let mib = 1 << 20
        let needed = (size + 9_999) / 10_000
        return max(minimumPartSize, (needed + mib - 1) / mib * mib)
    }

    // MARK: the runner's side

    /// Where to upload one file of the run's current attempt.
    public func plan(instanceID: String, runID: String, _ request: RunnerAPI.UploadRequest) async throws -> RunnerAPI.UploadPlan {
        try Self.checkFile(path: request.path, size: request.size, sha256: request.sha256)
        let bucket = try activeBucket()
        let wanted = bucket?.displayName ?? ArtifactStore.location
        let location: String = try workspace.state().write { tx in
            let (_, record) = try Self.assigned(tx, instanceID: instanceID, runID: runID, attempt: request.attempt)
            try Self.checkDeclared(request.path, record)
            return try tx.beginArtifactUpload(runID: runID, attempt: request.attempt, location: wanted)
        }
        if location == ArtifactStore.location {
            // The store checks the hash as it writes: a runner that has none yet asks again with it.
            guard let sha256 = request.sha256 else { return RunnerAPI.UploadPlan() }
            let query = RunnerAPI.query([("attempt", String(request.attempt)), ("path", request.path),
                                         ("size", String(request.size)), ("sha256", sha256)])
            return RunnerAPI.UploadPlan(url: RunnerAPI.artifactFilePath(instance: instanceID, run: runID) + "?" + query)
        }
        let target = try self.bucket(for: location, runID: runID)
        let key = ArtifactBucketKey.key(runID: runID, path: request.path)
        guard request.size > RunnerAPI.multipartThreshold else {
            return RunnerAPI.UploadPlan(url: try target.presignedPut(key: key, expiresIn: Self.urlLifetime).absoluteString)
        }
        let open = try workspace.state().read { try $0.openArtifactUpload(runID: runID, path: request.path) }
        let uploadID: String
        // A runner that hashes while it sends names no hash (recorded as ""), and asks the same again.
        let sha256 = request.sha256 ?? ""
        if let open, open.attempt == request.attempt, open.size == request.size, open.sha256 == sha256,
           open.location == location {
            uploadID = open.uploadID // asked again for fresh URLs: the same upload goes on
        } else {
            if let open { try? await target.abortMultipartUpload(key: key, uploadID: open.uploadID) }
            uploadID = try await target.createMultipartUpload(key: key)
            try workspace.state().write { tx in
                try tx.recordArtifactUpload(ArtifactUploadRecord(runID: runID, path: request.path, attempt: request.attempt,
                                                                 uploadID: uploadID, size: request.size,
                                                                 sha256: sha256, location: location))
            }
        }
        let partSize = Self.partSize(for: request.size)
        let count = (request.size + partSize - 1) / partSize
        let parts = try (1...count).map { number in
            RunnerAPI.PartURL(partNumber: number, url: try target.presignedUploadPart(
                key: key, uploadID: uploadID, partNumber: number, expiresIn: Self.urlLifetime).absoluteString)
        }
        return RunnerAPI.UploadPlan(uploadID: uploadID, partSize: partSize, parts: parts)
    }

    /// Where an upload to the server's store is written and then moved to; refused
    /// unless the run's current attempt uploads to the store and declared the path.
    public func storeUploadTarget(instanceID: String, runID: String, attempt: Int, path: String, size: Int,
                                  sha256: String) throws -> (incoming: String, final: String) {
        try Self.checkFile(path: path, size: size, sha256: sha256)
        let record: RunArtifactsRecord = try workspace.state().read { tx in
            try Self.assigned(tx, instanceID: instanceID, runID: runID, attempt: attempt).1
        }
        try Self.checkDeclared(path, record)
        guard record.state == .uploading, record.location == ArtifactStore.location else {
            throw ArtifactError.forbidden("run \(runID)'s artifacts do not go to the server's store; ask for an upload URL first")
        }
        guard let final = store.path(runID: runID, path: path) else { throw ArtifactError.badRequest("'\(path)' cannot be stored") }
        do {
            return (try store.incomingPath(), final)
        } catch {
            throw ArtifactError.storage("cannot write to \(store.root.path): \(DstackHome.reason(error))")
        }
    }

    /// Joins a multipart upload's parts in the bucket. Asked again for the same upload
    /// (the runner's call gave up while the bucket was still at it), it waits for the
    /// completion under way, or answers at once for one that finished.
    public func complete(instanceID: String, runID: String, _ completion: RunnerAPI.CompleteUpload) async throws {
        let open: ArtifactUploadRecord? = try workspace.state().read { tx in
            _ = try Self.assigned(tx, instanceID: instanceID, runID: runID, attempt: completion.attempt)
            return try tx.openArtifactUpload(runID: runID, path: completion.path)
        }
        guard let open, open.uploadID == completion.uploadID else {
            if await completions.hasFinished(completion.uploadID) { return }
            throw ArtifactError.notFound("no upload \(completion.uploadID) of \(completion.path) is open for run \(runID)")
        }
        let expected = (open.size + Self.partSize(for: open.size) - 1) / Self.partSize(for: open.size)
        let parts = completion.parts.sorted { $0.partNumber < $1.partNumber }
        guard parts.map(\.partNumber) == Array(1...max(expected, 1)) else {
            throw ArtifactError.badRequest("an upload of \(completion.path) needs parts 1 to \(expected), each once")
        }
        let bucket = try self.bucket(for: open.location, runID: runID)
        let key = ArtifactBucketKey.key(runID: runID, path: completion.path)
        let (workspace, uploadID, path) = (self.workspace, completion.uploadID, completion.path)
        let bucketParts = parts.map { ArtifactBucketPart(partNumber: $0.partNumber, etag: $0.etag) }
        try await completions.complete(uploadID) {
            try await bucket.completeMultipartUpload(key: key, uploadID: uploadID, parts: bucketParts)
            try workspace.state().write { try $0.removeArtifactUpload(runID: runID, path: path) }
        }
    }

    /// Writes the manifest, last. A file the server cannot vouch for (missing from its
    /// store, or a multipart upload never completed) makes the artifacts incomplete;
    /// multipart uploads left open are aborted so they stop costing storage.
    public func recordManifest(instanceID: String, runID: String, _ manifest: RunnerAPI.Manifest) async throws {
        for file in manifest.files { try Self.checkFile(path: file.path, size: file.size, sha256: file.sha256) }
        let (record, open): (RunArtifactsRecord, [ArtifactUploadRecord]) = try workspace.state().read { tx in
            let record = try Self.assigned(tx, instanceID: instanceID, runID: runID, attempt: manifest.attempt).1
            return (record, try tx.openArtifactUploads(runID: runID))
        }
        for file in manifest.files { try Self.checkDeclared(file.path, record) }
        var complete = manifest.complete
        var reason = manifest.complete ? nil : (manifest.reason ?? "the runner did not say why")
        let location = record.location ?? ArtifactStore.location
        if complete, !manifest.files.isEmpty, record.attempt != manifest.attempt {
            complete = false
            reason = "no upload of attempt \(manifest.attempt) began"
        }
        for file in manifest.files where complete {
            if location == ArtifactStore.location {
                guard let stored = store.path(runID: runID, path: file.path).flatMap(store.storedSize), stored == file.size else {
                    complete = false
                    reason = "\(file.path) is not in the server's store"
                    break
                }
            } else if open.contains(where: { $0.path == file.path }) {
                complete = false
                reason = "the multipart upload of \(file.path) was never completed"
            }
        }
        try workspace.state().write { tx in
            try tx.recordArtifactManifest(runID: runID, complete: complete, reason: reason,
                                          files: manifest.files.map { ArtifactFileRecord(path: $0.path, size: $0.size, sha256: $0.sha256) })
            for upload in open { try tx.removeArtifactUpload(runID: runID, path: upload.path) }
        }
        if !open.isEmpty, let bucket = try? self.bucket(for: location, runID: runID) {
            for upload in open {
                try? await bucket.abortMultipartUpload(key: ArtifactBucketKey.key(runID: runID, path: upload.path), uploadID: upload.uploadID)
            }
        }
    }

    /// Aborts the multipart uploads no runner will complete (`orphanedArtifactUploads`:
    /// the runner died, the run ended or was stopped without its manifest, its instance
    /// went and the run moved on to another attempt), so their parts stop costing
    /// storage; the reconciler calls it each pass. An upload whose bucket is no longer
    /// the configured one stays recorded until it is again. Returns the upload IDs
    /// aborted and a sentence for each that could not be.
    public func abortOrphanedUploads() async -> (aborted: [String], errors: [String]) {
        let orphans: [ArtifactUploadRecord]
        do {
            orphans = try workspace.state().read { try $0.orphanedArtifactUploads() }
        } catch {
            return ([], ["could not read the open multipart uploads: \(error)"])
        }
        guard !orphans.isEmpty else { return ([], []) }
        let bucket: (any ArtifactBucket)?
        do {
            bucket = try activeBucket()
        } catch {
            return ([], ["could not reach the artifact bucket to abort \(orphans.count) abandoned uploads: \(error)"])
        }
        var aborted: [String] = []
        var errors: [String] = []
        for upload in orphans {
            guard let bucket, bucket.displayName == upload.location else { continue }
            do {
                try await bucket.abortMultipartUpload(key: ArtifactBucketKey.key(runID: upload.runID, path: upload.path),
                                                      uploadID: upload.uploadID)
                try workspace.state().write {
                    try $0.removeArtifactUpload(runID: upload.runID, path: upload.path, uploadID: upload.uploadID)
                }
                aborted.append(upload.uploadID)
            } catch {
                errors.append("could not abort the abandoned upload of \(upload.path) (run \(upload.runID)): \(error)")
            }
        }
        return (aborted, errors)
    }

    /// The files of the run's deps, with fresh URLs to fetch each.
    public func depFiles(instanceID: String, runID: String) throws -> RunnerAPI.DepFiles {
        let (deps, files): ([RunArtifactsRecord], [String: [ArtifactFileRecord]]) = try workspace.state().read { tx in
            guard let run = try tx.run(runID) else { throw ArtifactError.notFound("no run \(runID)") }
            guard run.instanceID == instanceID, run.status == .running else {
                throw ArtifactError.forbidden("run \(runID) is not assigned to instance \(instanceID)")
            }
            let ids = try tx.runArtifacts(runID)?.deps ?? []
            var records: [RunArtifactsRecord] = []
            var files: [String: [ArtifactFileRecord]] = [:]
            for id in ids {
                guard let record = try tx.runArtifacts(id), record.state == .complete else {
                    throw ArtifactError.notComplete("the artifacts of run \(id), a dep of run \(runID), are not complete")
                }
                records.append(record)
                files[id] = try tx.artifactFiles(id)
            }
            return (records, files)
        }
        var result: [RunnerAPI.DepFile] = []
        for dep in deps {
            let location = dep.location ?? ArtifactStore.location
            let bucket = location == ArtifactStore.location ? nil : try self.bucket(for: location, runID: dep.runID)
            for file in files[dep.runID] ?? [] {
                let url: String
                if let bucket {
                    url = try bucket.presignedGet(key: ArtifactBucketKey.key(runID: dep.runID, path: file.path),
                                                  expiresIn: Self.urlLifetime).absoluteString
                } else {
                    url = RunnerAPI.depFilePath(instance: instanceID, run: runID) + "?"
                        + RunnerAPI.query([("run", dep.runID), ("path", file.path)])
                }
                result.append(RunnerAPI.DepFile(run: dep.runID, path: file.path, size: file.size, sha256: file.sha256, url: url))
            }
        }
        return RunnerAPI.DepFiles(files: result)
    }

    /// A dep's file in the server's store, for the run assigned to this instance.
    public func depStorePath(instanceID: String, runID: String, depRunID: String, path: String) throws -> String {
        try workspace.state().read { tx in
            guard let run = try tx.run(runID) else { throw ArtifactError.notFound("no run \(runID)") }
            guard run.instanceID == instanceID, run.status == .running else {
                throw ArtifactError.forbidden("run \(runID) is not assigned to instance \(instanceID)")
            }
            guard try tx.runArtifacts(runID)?.deps.contains(depRunID) == true else {
                throw ArtifactError.forbidden("run \(depRunID) is not a dep of run \(runID)")
            }
            return try self.storedFile(tx, runID: depRunID, path: path)
        }
    }

    // MARK: the API's side

    /// A run's manifest and what it declared; nil when it declares no artifacts.
    public func manifest(of run: RunRecord) throws -> (record: RunArtifactsRecord, files: [ArtifactFileRecord])? {
        try workspace.state().read { tx in
            guard let record = try tx.runArtifacts(run.id), !record.paths.isEmpty else { return nil }
            return (record, try tx.artifactFiles(run.id))
        }
    }

    /// The files under `path` (every file when nil) of a run whose artifacts are
    /// complete, each with a URL: presigned for a bucket, else `storeURL(path)`.
    public func downloads(of run: RunRecord, path: String?, storeURL: (String) -> String) throws
        -> [(file: ArtifactFileRecord, url: String)] {
        // A path that could not be an artifact's names none: 404, as any other absent one.
        if let path, ArtifactPath.problem(path) != nil { throw ArtifactError.notFound("run \(run.id) has no artifact \(path)") }
        guard let found = try manifest(of: run) else { throw ArtifactError.notFound("run \(run.id) declares no artifacts") }
        let (record, files) = found
        let (state, reason) = ArtifactStatus.describe(record, runStatus: run.status)
        guard state == "complete" else {
            throw ArtifactError.notComplete("the artifacts of run \(run.id) are \(state)" + (reason.map { " (\($0))" } ?? ""))
        }
        let wanted = path.map(ArtifactPath.normalized)
        let chosen = files.filter { file in wanted.map { file.path == $0 || file.path.hasPrefix($0 + "/") } ?? true }
        if let wanted, chosen.isEmpty { throw ArtifactError.notFound("run \(run.id) has no artifact \(wanted)") }
        let location = record.location ?? ArtifactStore.location
        let bucket = location == ArtifactStore.location ? nil : try self.bucket(for: location, runID: run.id)
        return try chosen.map { file in
            let url = try bucket.map {
                try $0.presignedGet(key: ArtifactBucketKey.key(runID: run.id, path: file.path), expiresIn: Self.urlLifetime).absoluteString
            } ?? storeURL(file.path)
            return (file, url)
        }
    }

    /// A file of a run with complete artifacts, in the server's store.
    public func storedFile(of run: RunRecord, path: String) throws -> String {
        try workspace.state().read { try self.storedFile($0, runID: run.id, path: path) }
    }

    private func storedFile(_ tx: StateTransaction, runID: String, path: String) throws -> String {
        guard let record = try tx.runArtifacts(runID), record.state == .complete else {
            throw ArtifactError.notComplete("the artifacts of run \(runID) are not complete")
        }
        guard (record.location ?? ArtifactStore.location) == ArtifactStore.location else {
            throw ArtifactError.notFound("the artifacts of run \(runID) are in \(record.location ?? "a bucket"), not on the server")
        }
        guard ArtifactPath.isCanonical(path), try tx.artifactFiles(runID).contains(where: { $0.path == path }),
              let stored = store.path(runID: runID, path: path), store.storedSize(stored) != nil else {
            throw ArtifactError.notFound("run \(runID) has no artifact file \(path)")
        }
        return stored
    }

    /// The run IDs a new run's deps name: a workflow's newest `done` run (among the runs
    /// `visibleTo` may see; every run when nil), or a run by ID; each must have complete
    /// artifacts, since an incomplete run is never a dep.
    public func resolveDeps(workflows: [String], runs: [String], visibleTo: String?) throws -> [String] {
        try workspace.state().read { tx in
            var resolved: [String] = []
            for workflow in workflows {
                guard let id = try tx.latestSuccessfulRun(workflow: workflow, submittedBy: visibleTo) else {
                    throw ArtifactError.notComplete("no run of workflow '\(workflow)' has succeeded, so it cannot be a dep yet")
                }
                try Self.checkUsableDep(tx, id, what: "the latest successful run of '\(workflow)' (\(id))")
                if !resolved.contains(id) { resolved.append(id) }
            }
            for given in runs {
                guard let run = try tx.findRun(given) else { throw ArtifactError.notFound("no run '\(given)' to depend on") }
                if let visibleTo, run.submittedBy != visibleTo {
                    throw ArtifactError.forbidden("run \(run.id) belongs to another user; it cannot be your dep")
                }
                try Self.checkUsableDep(tx, run.id, what: "run \(run.id)")
                if !resolved.contains(run.id) { resolved.append(run.id) }
            }
            return resolved
        }
    }

    private static func checkUsableDep(_ tx: StateTransaction, _ id: String, what: String) throws {
        guard let record = try tx.runArtifacts(id), !record.paths.isEmpty else {
            throw ArtifactError.notComplete("\(what) declares no artifacts, so it cannot be a dep")
        }
        guard record.state == .complete else {
            let status = try tx.run(id)?.status ?? .failed
            let (state, reason) = ArtifactStatus.describe(record, runStatus: status)
            throw ArtifactError.notComplete("the artifacts of \(what) are \(state)" + (reason.map { " (\($0))" } ?? "")
                + ", so it cannot be a dep")
        }
    }

    // MARK: checks

    /// The run, assigned to this instance and at this attempt, and what it declared.
    static func assigned(_ tx: StateTransaction, instanceID: String, runID: String, attempt: Int) throws
        -> (RunRecord, RunArtifactsRecord) {
        guard let run = try tx.run(runID) else { throw ArtifactError.notFound("no run \(runID)") }
        guard run.instanceID == instanceID, run.status == .running, run.attempt == attempt else {
            throw ArtifactError.forbidden("attempt \(attempt) of run \(runID) is not the one running on instance \(instanceID)")
        }
        guard let record = try tx.runArtifacts(runID), !record.paths.isEmpty else {
            throw ArtifactError.badRequest("run \(runID) declares no artifacts")
        }
        return (run, record)
    }

    static func checkFile(path: String, size: Int, sha256: String?) throws {
        guard ArtifactPath.isCanonical(path) else {
            throw ArtifactError.badRequest(ArtifactPath.problem(path) ?? "'\(path)' is not a normalized relative path")
        }
        guard size >= 0 else { throw ArtifactError.badRequest("the size of \(path) is negative") }
        guard let sha256 else { return }
        guard sha256.count == 64, sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw ArtifactError.badRequest("the SHA-256 of \(path) is not 64 lower-case hex digits")
        }
    }

    /// A runner uploads only under the paths its run declared.
    static func checkDeclared(_ path: String, _ record: RunArtifactsRecord) throws {
        guard record.paths.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) else {
            throw ArtifactError.forbidden("'\(path)' is not under any artifact path run \(record.runID) declared")
        }
    }
}
