import DstackProvider
import DstackWire
import Foundation

/// The seed's "Artifact S3 bucket": the server creates and completes multipart uploads
/// with its credentials, and hands the runner presigned URLs for the bytes.
public final class S3ArtifactBucket: ArtifactBucket {
    public let bucket: String
    let client: S3Client

    public struct Options: Sendable {
        /// Defaults to the core's libcurl client.
        public var transport: (any HTTPTransport)?
        public var retry: RetryPolicy
        public var now: @Sendable () -> Date
        /// For IMDSv2 credentials; defaults to a libcurl client with short timeouts.
        public var metadataTransport: (any HTTPTransport)?

        public init(transport: (any HTTPTransport)? = nil, retry: RetryPolicy = RetryPolicy(),
                    now: @escaping @Sendable () -> Date = { Date() }, metadataTransport: (any HTTPTransport)? = nil) {
            self.transport = transport
            self.retry = retry
            self.now = now
            self.metadataTransport = metadataTransport
        }
    }

    /// The bucket the settings name (`artifact_s3_bucket`), or nil when they name none.
    /// Credentials and region come the way the EC2 provider finds them.
    public static func fromSettings(_ settings: ProviderSettings, context: ProviderContext,
                                    options: Options = Options()) throws -> S3ArtifactBucket? {
        guard let raw = settings["artifact_s3_bucket"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        let bucket = try bucketName(raw)
        let environment = context.environment
        let files = AWSConfigFiles.load(environment: environment)
        try AWSCredentialSettings.check(settings)
        let endpoint = try S3Endpoint.resolve(settings: settings, environment: environment, files: files)
        let chain = CredentialsChain(settings: settings, environment: environment, files: files,
                                     imds: IMDSCredentials.fromEnvironment(environment, transport: options.metadataTransport))
        // CompleteMultipartUpload answers once the bucket has joined the parts (minutes for a big
        // object on S3): a client that gave up sooner would send it again while the first still runs.
        let transport = options.transport ?? CurlHTTPClient(options: .init(totalTimeout: completionTimeout, proxy: .fromEnvironment(environment)))
        let credentials = CredentialsCache(chain: chain, now: options.now)
        if chain.staticCredentials() == nil {
            // An instance role: fetch its key now, so the first presigned URL need not wait.
            Task { _ = try? await credentials.current() }
        }
        return S3ArtifactBucket(bucket: bucket, client: S3Client(endpoint: endpoint, credentials: credentials, transport: transport,
                                                                 retry: options.retry, now: options.now))
    }

    init(bucket: String, client: S3Client) {
        self.bucket = bucket
        self.client = client
    }

    /// `my-bucket` or `s3://my-bucket/`, checked against S3's naming rules (3 to 63
    /// lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit).
    static func bucketName(_ raw: String) throws -> String {
        var name = raw.hasPrefix("s3://") ? String(raw.dropFirst(5)) : raw
        while name.hasSuffix("/") { name.removeLast() }
        let allowed = name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }
        let edges = [name.first, name.last].allSatisfy { $0.map { $0.isLowercase || $0.isNumber } ?? false }
        guard (3...63).contains(name.count), allowed, edges, !name.contains("..") else {
            throw ProviderError.invalidConfiguration(
                detail: "artifact_s3_bucket '\(raw)' is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)")
        }
        return name
    }

    /// How long one call to the bucket may take; CompleteMultipartUpload is the long one.
    static let completionTimeout: TimeInterval = 900

    public var displayName: String { "s3://\(bucket)" }
    public var region: String { client.endpoint.region }

    public func check() async throws {
        switch try await client.headBucket(bucket) {
        case .reachable:
            return
        case .notFound:
            throw ProviderError.invalidConfiguration(
                detail: "bucket not found: \(displayName) does not exist; create it in \(region) or name another one")
        case .denied:
            throw ProviderError.accessDenied(
                action: "s3:ListBucket",
                detail: "\(displayName); grant the bucket statement of the README's IAM section for arn:aws:s3:::\(bucket)")
        case .elsewhere(let other):
            throw ProviderError.invalidConfiguration(
                detail: "\(displayName) is in another region (\(other), not \(region)); use a bucket in \(region)")
        }
    }

    public func presignedPut(key: String, expiresIn seconds: Int) throws -> URL {
        try client.presign(method: "PUT", bucket: bucket, key: key, expiresIn: seconds)
    }

    public func presignedGet(key: String, expiresIn seconds: Int) throws -> URL {
        try client.presign(method: "GET", bucket: bucket, key: key, expiresIn: seconds)
    }

    public func createMultipartUpload(key: String) async throws -> String {
        try await client.createMultipartUpload(bucket: bucket, key: key)
    }

    public func presignedUploadPart(key: String, uploadID: String, partNumber: Int, expiresIn seconds: Int) throws -> URL {
        guard (1...10_000).contains(partNumber) else {
            throw ProviderError.invalidConfiguration(detail: "S3 numbers parts 1 to 10000, not \(partNumber)")
        }
        return try client.presign(method: "PUT", bucket: bucket, key: key,
                                  query: "partNumber=\(partNumber)&uploadId=\(SigV4Signer.uriEncode(uploadID))", expiresIn: seconds)
    }

    public func completeMultipartUpload(key: String, uploadID: String, parts: [ArtifactBucketPart]) async throws {
        try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts)
    }

    public func abortMultipartUpload(key: String, uploadID: String) async throws {
        try await client.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID)
    }
}
