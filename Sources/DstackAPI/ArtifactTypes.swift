import DstackWire

/// One dependency of a submitted run: `{"workflow": NAME}` (its latest successful run
/// with complete artifacts) or `{"run": ID}`.
public struct DepPayload: Codable, Sendable, Equatable {
    public var workflow: String?
    public var run: String?

    public init(workflow: String? = nil, run: String? = nil) {
        self.workflow = workflow
        self.run = run
    }
}

/// What `dstack ps` shows of a run's artifacts.
public struct ArtifactSummary: Codable, Sendable, Equatable {
    public var count: Int
    public var size: Int
    /// `pending` (the run has not uploaded yet), `uploading`, `complete` or `incomplete`.
    public var state: String
    /// Why they are incomplete, in one sentence.
    public var reason: String?

    public init(count: Int, size: Int, state: String, reason: String? = nil) {
        self.count = count
        self.size = size
        self.state = state
        self.reason = reason
    }
}

public struct ArtifactFileInfo: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int
    public var sha256: String

    public init(path: String, size: Int, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// `GET /api/v1/runs/{run}/artifacts`: the manifest, and what the run declared.
public struct ArtifactList: Codable, Sendable, Equatable {
    public var run: String
    /// The paths the run declared (`artifacts:` or `--artifact`).
    public var declared: [String]
    /// `none` (nothing declared), `pending`, `uploading`, `complete` or `incomplete`.
    public var state: String
    public var reason: String?
    /// `server` (the server's own store) or the bucket, e.g. `s3://my-bucket`.
    public var location: String?
    public var files: [ArtifactFileInfo]

    public init(run: String, declared: [String], state: String, reason: String?, location: String?, files: [ArtifactFileInfo]) {
        self.run = run
        self.declared = declared
        self.state = state
        self.reason = reason
        self.location = location
        self.files = files
    }
}

/// One file to download: its manifest entry and where to fetch it. A `url` starting
/// with `/` is on the server (send the API token); any other is presigned.
public struct ArtifactDownload: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int
    public var sha256: String
    public var url: String

    public init(path: String, size: Int, sha256: String, url: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.url = url
    }
}

/// `GET /api/v1/runs/{run}/artifacts/downloads[?path=P]`: the files under `P` (or all),
/// with fresh URLs. Refused (409) for artifacts that are not complete.
public struct ArtifactDownloads: Codable, Sendable, Equatable {
    public var run: String
    public var files: [ArtifactDownload]

    public init(run: String, files: [ArtifactDownload]) {
        self.run = run
        self.files = files
    }
}
