import Foundation

/// A vendor's object store for run artifacts (the seed's "Artifact S3 bucket"). The
/// server holds the credentials; the runner only ever sees presigned URLs, so it can
/// upload straight to the bucket without holding a cloud key.
public protocol ArtifactBucket: Sendable {
    /// What a person would type to browse it: `s3://my-bucket`.
    var displayName: String { get }
    /// Checks that the bucket exists, is reachable with these credentials and is in the
    /// configured region (`HeadBucket` on S3). Throws `ProviderError` with one sentence:
    /// "bucket not found", "access denied" or "in another region".
    func check() async throws
    /// A URL the runner can `PUT` one object to, without credentials, for `expiresIn` seconds.
    func presignedPut(key: String, expiresIn seconds: Int) throws -> URL
    /// A URL anyone holding it can `GET` the object from, for `expiresIn` seconds.
    func presignedGet(key: String, expiresIn seconds: Int) throws -> URL
    /// Starts a multipart upload (files over 64 MiB) and returns its upload ID.
    func createMultipartUpload(key: String) async throws -> String
    /// A URL the runner can `PUT` part `partNumber` (1-based) of the upload to; S3 answers with an ETag.
    func presignedUploadPart(key: String, uploadID: String, partNumber: Int, expiresIn seconds: Int) throws -> URL
    /// Joins the parts, in part-number order, into the object.
    func completeMultipartUpload(key: String, uploadID: String, parts: [ArtifactBucketPart]) async throws
    /// Abandons an upload so its parts stop costing storage.
    func abortMultipartUpload(key: String, uploadID: String) async throws
}

/// One uploaded part of a multipart upload, as S3's `CompleteMultipartUpload` needs it.
public struct ArtifactBucketPart: Sendable, Equatable, Codable {
    public var partNumber: Int
    public var etag: String
    public init(partNumber: Int, etag: String) {
        self.partNumber = partNumber
        self.etag = etag
    }
}

/// The key under which a run's artifact lives in a vendor's bucket, so a user can browse
/// them with `aws s3 ls s3://BUCKET/dstack/artifacts/RUN_ID/`.
public enum ArtifactBucketKey {
    public static func key(runID: String, path: String) -> String { "dstack/artifacts/\(runID)/\(path)" }
}
