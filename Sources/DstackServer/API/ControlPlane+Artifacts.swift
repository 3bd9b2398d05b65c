import DstackAPI
import DstackCore
import Foundation

extension ControlPlane {
    /// A submission's artifact paths, checked, and its deps resolved to run IDs now, so
    /// that every attempt starts from the same files. Refused in one sentence otherwise.
    func artifactsAndDeps(_ submission: RunSubmission, by caller: Caller) async throws -> (paths: [String], deps: [String]) {
        var paths: [String] = []
        // The API takes paths as the CLI sends them, normalized (the document's pattern):
        // `./a`, `a//b` or `a/` are refused rather than read in a second way.
        for path in submission.artifacts {
            if let problem = ArtifactPath.problem(path) { throw APIRequestError.badRequest("artifacts: \(problem)") }
            guard ArtifactPath.isCanonical(path) else {
                throw APIRequestError.badRequest("artifacts: '\(path)' is not normalized; send '\(ArtifactPath.normalized(path))'")
            }
            if !paths.contains(path) { paths.append(path) }
        }
        var workflows: [String] = []
        var runs: [String] = []
        for dep in submission.deps {
            switch (dep.workflow, dep.run) {
            case (let workflow?, nil) where !workflow.isEmpty: workflows.append(workflow)
            case (nil, let run?) where !run.isEmpty: runs.append(run)
            default: throw APIRequestError.badRequest("each dep names a workflow or a run, not both and not neither")
            }
        }
        guard !workflows.isEmpty || !runs.isEmpty else { return (paths, []) }
        let deps = try await BlockingWork.run { [artifacts, workflows, runs] in
            try artifacts.resolveDeps(workflows: workflows, runs: runs, visibleTo: caller.isAdmin ? nil : caller.name)
        }
        return (paths, deps)
    }

    /// The runs as the API shows them, each with its artifacts' summary and its cost.
    func infoWithArtifacts(_ records: [RunRecord]) async throws -> [RunInfo] {
        try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in try Self.infoWithArtifacts(records, tx: tx, now: Date()) }
        }
    }

    /// The runs' info with their artifacts and cost, read in the caller's transaction
    /// (`dstack ps` reads its page and these in one).
    static func infoWithArtifacts(_ records: [RunRecord], tx: StateTransaction, now: Date) throws -> [RunInfo] {
        let ids = records.map(\.id)
        let summaries = try tx.runArtifacts(ids)
        let costs = try CostLedger.runCosts(ids, tx: tx, now: now)
        return records.map { record in
            var info = Self.info(record)
            info.costDollars = costs[record.id]?.decimalText
            if let summary = summaries[record.id], !summary.0.paths.isEmpty {
                let (artifacts, counts) = summary
                let (state, reason) = ArtifactStatus.describe(artifacts, runStatus: record.status)
                info.artifacts = ArtifactSummary(count: counts.count, size: counts.size, state: state, reason: reason)
            }
            return info
        }
    }

    func artifactList(_ idOrPrefix: String, by caller: Caller) async throws -> ArtifactList {
        let run = try await run(idOrPrefix, by: caller)
        let found = try await BlockingWork.run { [artifacts] in try artifacts.manifest(of: run) }
        guard let found else { return ArtifactList(run: run.id, declared: [], state: "none", reason: nil, location: nil, files: []) }
        let (record, files) = found
        let (state, reason) = ArtifactStatus.describe(record, runStatus: run.status)
        return ArtifactList(run: run.id, declared: record.paths, state: state, reason: reason, location: record.location,
                            files: files.map { ArtifactFileInfo(path: $0.path, size: $0.size, sha256: $0.sha256) })
    }

    func artifactDownloads(_ idOrPrefix: String, path: String?, by caller: Caller) async throws -> ArtifactDownloads {
        let run = try await run(idOrPrefix, by: caller)
        let files = try await BlockingWork.run { [artifacts] in
            try artifacts.downloads(of: run, path: path) { file in
                APIPaths.runArtifactFile(run.id) + "?path=" + APIPaths.escaped(file)
            }
        }
        return ArtifactDownloads(run: run.id, files: files.map {
            ArtifactDownload(path: $0.file.path, size: $0.file.size, sha256: $0.file.sha256, url: $0.url)
        })
    }
}
