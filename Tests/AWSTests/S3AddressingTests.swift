@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// How the artifact bucket is named, addressed and configured, without a network.
final class S3AddressingTests: XCTestCase {
    private func endpoint(_ settings: ProviderSettings, _ environment: [String: String] = [:]) throws -> S3Endpoint {
        try S3Endpoint.resolve(settings: settings.merging(["region": "eu-west-1"]) { a, _ in a }, environment: environment,
                               files: AWSConfigFiles())
    }

    func testTheDefaultEndpointPutsTheBucketInTheHostName() throws {
        let s3 = try endpoint([:])
        XCTAssertEqual(s3.url(bucket: "my-bucket", key: "dstack/artifacts/r1/a b+c.txt"),
                       "https://my-bucket.s3.eu-west-1.amazonaws.com/dstack/artifacts/r1/a%20b%2Bc.txt")
        XCTAssertEqual(s3.url(bucket: "my-bucket"), "https://my-bucket.s3.eu-west-1.amazonaws.com/")
        // A dot in the name would not match S3's wildcard certificate: path-style instead.
        XCTAssertEqual(s3.url(bucket: "my.bucket", key: "k"), "https://s3.eu-west-1.amazonaws.com/my.bucket/k")
    }

    func testAnExplicitEndpointIsAddressedPathStyleAndEnvironmentOverridesWinInOrder() throws {
        let saved = try endpoint(["s3_endpoint_url": "http://127.0.0.1:5000"])
        XCTAssertEqual(saved.url(bucket: "b1", key: "k", query: "uploads"), "http://127.0.0.1:5000/b1/k?uploads")
        XCTAssertEqual(saved.source, "s3_endpoint_url")
        XCTAssertEqual(try endpoint(["s3_endpoint_url": "http://saved"], ["AWS_ENDPOINT_URL": "http://all"]).source, "AWS_ENDPOINT_URL")
        XCTAssertEqual(try endpoint([:], ["AWS_ENDPOINT_URL": "http://all", "AWS_ENDPOINT_URL_S3": "http://s3"]).base, "http://s3")
        // The EC2 endpoint is no S3 endpoint.
        XCTAssertEqual(try endpoint(["endpoint_url": "http://ec2-only"]).source, "default")
        XCTAssertThrowsError(try endpoint(["s3_endpoint_url": "ftp://x"]))
    }

    func testBucketNamesFollowS3sRulesAndMayBeGivenAsS3URLs() throws {
        XCTAssertEqual(try S3ArtifactBucket.bucketName("s3://my-bucket/"), "my-bucket")
        XCTAssertEqual(try S3ArtifactBucket.bucketName("logs.example.com"), "logs.example.com")
        for bad in ["ab", "My-Bucket", "-bucket", "bucket-", "a..b", "bucket_name", String(repeating: "a", count: 64)] {
            XCTAssertThrowsError(try S3ArtifactBucket.bucketName(bad), bad) { error in
                XCTAssertTrue((error as? ProviderError)?.userMessage.contains("is not an S3 bucket name") ?? false, "\(error)")
            }
        }
    }

    func testNoBucketSettingMeansNoBucket() throws {
        let context = ProviderContext(installationID: "t", home: FileManager.default.temporaryDirectory, environment: [:])
        XCTAssertNil(try AWSPlugin.plugin.makeArtifactBucket(["region": "us-east-1", "artifact_s3_bucket": " "], context))
        let bucket = try AWSPlugin.plugin.makeArtifactBucket(
            ["region": "us-east-1", "artifact_s3_bucket": "s3://dstack-artifacts", "access_key_id": "AKID", "secret_access_key": "s"],
            context)
        XCTAssertEqual(bucket?.displayName, "s3://dstack-artifacts")
    }

    func testCompleteMultipartUploadListsThePartsInOrderWithTheirETags() {
        let body = S3Client.completeBody([ArtifactBucketPart(partNumber: 2, etag: "\"b\""), ArtifactBucketPart(partNumber: 1, etag: "\"a\"")])
        XCTAssertEqual(body, #"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"#)
    }

    func testPresigningNeedsNoNetworkWithAKnownKeyAndNeverShowsTheSecret() throws {
        let context = ProviderContext(installationID: "t", home: FileManager.default.temporaryDirectory,
                                      environment: ["AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret-value",
                                                    "AWS_EC2_METADATA_DISABLED": "true"])
        let bucket = try XCTUnwrap(S3ArtifactBucket.fromSettings(["region": "us-east-1", "artifact_s3_bucket": "b-1"], context: context))
        let url = try bucket.presignedUploadPart(key: "dstack/artifacts/r/f", uploadID: "up/1+2", partNumber: 3, expiresIn: 900)
        XCTAssertTrue(url.absoluteString.hasPrefix("https://b-1.s3.us-east-1.amazonaws.com/dstack/artifacts/r/f?partNumber=3&uploadId=up%2F1%2B2&"),
                      url.absoluteString)
        XCTAssertTrue(url.absoluteString.contains("X-Amz-Credential=AKIAENVKEY%2F"), url.absoluteString)
        XCTAssertTrue(url.absoluteString.contains("X-Amz-Expires=900&"), url.absoluteString)
        XCTAssertFalse(url.absoluteString.contains("env-secret-value"))
        XCTAssertThrowsError(try bucket.presignedUploadPart(key: "k", uploadID: "u", partNumber: 10_001, expiresIn: 60))
    }

    func testWithOnlyAnInstanceRoleTheURLsAreSignedWithItsTemporaryKeyAndToken() async throws {
        let metadata = try LocalHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"): return .init(body: "t")
            case ("GET", "/latest/meta-data/iam/security-credentials/"): return .init(body: "role")
            case ("GET", "/latest/meta-data/iam/security-credentials/role"):
                return .init(body: #"{"AccessKeyId": "ASIAROLE", "SecretAccessKey": "role-secret", "Token": "role/token", "Expiration": "2099-01-01T00:00:00Z"}"#)
            default: return .init(status: 404)
            }
        }
        defer { metadata.stop() }
        let context = ProviderContext(installationID: "t", home: FileManager.default.temporaryDirectory,
                                      environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.url])
        let bucket = try XCTUnwrap(S3ArtifactBucket.fromSettings(["region": "us-east-1", "artifact_s3_bucket": "b-1"], context: context))
        // What the server's first async call on the bucket (check, a multipart create) does.
        _ = try await bucket.client.credentials.current()
        let url = try bucket.presignedGet(key: "k", expiresIn: 60).absoluteString
        XCTAssertTrue(url.contains("X-Amz-Credential=ASIAROLE%2F"), url)
        XCTAssertTrue(url.contains("X-Amz-Security-Token=role%2Ftoken&"), url)
    }

    // MARK: Keys are optional at configure

    func testTheKeyPromptsShowNoneOrTheServersOwnKeyMaskedAndEnterSavesNone() throws {
        let plugin = AWSPlugin.plugin
        let form = ConfigureForm(plugin: plugin)
        let keyField = try XCTUnwrap(plugin.fields.first { $0.key == "access_key_id" })
        XCTAssertTrue(keyField.isOptional)
        XCTAssertEqual(form.prompt(for: keyField, current: nil), "AWS Access Key ID [None]: ")
        XCTAssertEqual(form.prompt(for: keyField, current: nil, fallback: "AKIAIOSFODNN7EXAMPLE"), "AWS Access Key ID [****************MPLE]: ")
        XCTAssertEqual(form.prompt(for: keyField, current: "AKIASAVED00000000001", fallback: "AKIAIOSFODNN7EXAMPLE"),
                       "AWS Access Key ID [****************0001]: ", "a saved key wins over the environment's")
        let finished = try form.finish(["region": "us-east-1"])
        XCTAssertNil(finished["access_key_id"])
        XCTAssertNil(finished["secret_access_key"])
    }

    func testTheFallbacksAreTheServersEnvironmentKeysThenItsProfileNeverTheRole() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-fallback-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try "[ci]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n"
            .write(to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        func fallbacks(_ environment: [String: String]) -> ProviderSettings {
            AWSPlugin.plugin.environmentFallbacks(ProviderContext(installationID: "t", home: home,
                                                                  environment: environment.merging(["HOME": home.path]) { a, _ in a }))
        }
        XCTAssertEqual(fallbacks(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_PROFILE": "ci"]),
                       ["access_key_id": "AKIAENV", "secret_access_key": "env-secret"])
        XCTAssertEqual(fallbacks(["AWS_PROFILE": "ci"])["access_key_id"], "AKIAPROFILE")
        XCTAssertEqual(fallbacks([:]), [:], "no default profile, and the instance role is not asked")
    }

    func testAKeyIDWithoutItsSecretIsRefusedByTheProvider() {
        let context = ProviderContext(installationID: "t", home: FileManager.default.temporaryDirectory,
                                      environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env"])
        XCTAssertThrowsError(try AWSProvider(settings: ["region": "us-east-1", "access_key_id": "AKIAONLY"], context: context)) { error in
            XCTAssertTrue((error as? ProviderError)?.userMessage.contains("without its Secret Access Key") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try AWSProvider(settings: ["region": "us-east-1", "secret_access_key": "s"], context: context))
        XCTAssertNoThrow(try AWSProvider(settings: ["region": "us-east-1"], context: context))
    }
}
