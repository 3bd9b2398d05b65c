/// The runner API's artifact routes. The runner never holds cloud credentials: it asks
/// the server, per file, where to upload, and gets either a path on the server itself
/// (the server's own store, with the per-instance bearer) or presigned URLs of the
/// vendor's bucket (no bearer: the URL is the permission).
///
/// | route | body → reply |
/// |---|---|
/// | `POST /api/runners/{id}/runs/{run}/artifacts/uploads` | `UploadRequest` → `UploadPlan` (asked again for fresh URLs) |
/// | `PUT  /api/runners/{id}/runs/{run}/artifacts/file?attempt=&path=&size=&sha256=` | the file's bytes → 204 (the server's store; a body that does not hash to `sha256` is refused with 400) |
/// | `POST /api/runners/{id}/runs/{run}/artifacts/complete` | `CompleteUpload` → 204 (a multipart upload's ETags) |
/// | `POST /api/runners/{id}/runs/{run}/artifacts/manifest` | `Manifest` → 204; written last |
/// | `GET  /api/runners/{id}/runs/{run}/deps` | → `DepFiles`: the deps' files with fresh URLs |
/// | `GET  /api/runners/{id}/runs/{run}/deps/file?run=&path=` | → a dep's file from the server's store |
extension RunnerAPI {
    public static func artifactUploadsPath(instance: String, run: String) -> String { runPath(instance, run) + "/artifacts/uploads" }
    public static func artifactFilePath(instance: String, run: String) -> String { runPath(instance, run) + "/artifacts/file" }
    public static func artifactCompletePath(instance: String, run: String) -> String { runPath(instance, run) + "/artifacts/complete" }
    public static func artifactManifestPath(instance: String, run: String) -> String { runPath(instance, run) + "/artifacts/manifest" }
    public static func depsPath(instance: String, run: String) -> String { runPath(instance, run) + "/deps" }
    public static func depFilePath(instance: String, run: String) -> String { runPath(instance, run) + "/deps/file" }

    private static func runPath(_ instance: String, _ run: String) -> String { "/api/runners/\(instance)/runs/\(run)" }

    /// Files over this size go as multipart uploads to a bucket.
    public static let multipartThreshold = 64 << 20

    /// Asks where to upload one file; asking again for the same file gives fresh URLs
    /// (and the same multipart upload, when one is open).
    public struct UploadRequest: RunnerAPIPayload {
        public var attempt: Int
        public var path: String
        public var size: Int
        /// Absent for a file over `multipartThreshold`, which the runner hashes while its
        /// parts go out (the manifest carries the hash).
        public var sha256: String?

        public init(attempt: Int, path: String, size: Int, sha256: String?) {
            self.attempt = attempt
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    /// Where one file goes. Either `url` (one PUT of the whole file) or `uploadID` with
    /// `parts` (a multipart upload: part N is bytes `(N-1)*partSize ..< N*partSize`;
    /// every part's URL at once). A URL starting with `/` is on the server (send the
    /// bearer); any other is presigned (send nothing else). Neither, for a request
    /// without the SHA-256 of a file bound for the server's store: the store checks the
    /// hash as it writes, so ask again with it.
    public struct UploadPlan: RunnerAPIPayload {
        public var url: String?
        public var uploadID: String?
        public var partSize: Int
        public var parts: [PartURL]

        public init(url: String? = nil, uploadID: String? = nil, partSize: Int = 0, parts: [PartURL] = []) {
            self.url = url
            self.uploadID = uploadID
            self.partSize = partSize
            self.parts = parts
        }
    }

    public struct PartURL: RunnerAPIPayload {
        public var partNumber: Int
        public var url: String

        public init(partNumber: Int, url: String) {
            self.partNumber = partNumber
            self.url = url
        }
    }

    /// A multipart upload's parts, with the ETag the bucket answered for each.
    public struct CompleteUpload: RunnerAPIPayload {
        public var attempt: Int
        public var path: String
        public var uploadID: String
        public var parts: [UploadedPart]

        public init(attempt: Int, path: String, uploadID: String, parts: [UploadedPart]) {
            self.attempt = attempt
            self.path = path
            self.uploadID = uploadID
            self.parts = parts
        }
    }

    public struct UploadedPart: RunnerAPIPayload {
        public var partNumber: Int
        public var etag: String

        public init(partNumber: Int, etag: String) {
            self.partNumber = partNumber
            self.etag = etag
        }
    }

    /// Written last, once every upload has ended: the files that made it, and whether
    /// that is all of them. An incomplete run's artifacts are never used as deps.
    public struct Manifest: RunnerAPIPayload {
        public var attempt: Int
        public var complete: Bool
        /// Why not, in one sentence, when not complete.
        public var reason: String?
        public var files: [ManifestFile]

        public init(attempt: Int, complete: Bool, reason: String? = nil, files: [ManifestFile]) {
            self.attempt = attempt
            self.complete = complete
            self.reason = reason
            self.files = files
        }
    }

    public struct ManifestFile: RunnerAPIPayload {
        public var path: String
        public var size: Int
        public var sha256: String

        public init(path: String, size: Int, sha256: String) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct DepFiles: RunnerAPIPayload {
        public var files: [DepFile]

        public init(files: [DepFile]) { self.files = files }
    }

    /// One file of a dependency: where it goes in the working directory (`path`), what
    /// it must hash to, and where to fetch it (the same two kinds of URL as `UploadPlan`).
    public struct DepFile: RunnerAPIPayload {
        public var run: String
        public var path: String
        public var size: Int
        public var sha256: String
        public var url: String

        public init(run: String, path: String, size: Int, sha256: String, url: String) {
            self.run = run
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.url = url
        }
    }

    /// `name=value&...` with each value percent-encoded, for the server's own URLs.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    public static func percentEncoded(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
