import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack aws configure` checks the artifact bucket with HeadBucket under moto's IAM
/// enforcement: a missing bucket, one the key may not reach and one in another region
/// are each refused in one sentence, exit 1, with nothing saved; a good one is saved.
final class BucketConfigureOnMotoTests: XCTestCase {
    var moto: MotoServer!
    var dstack: DstackServerOnMoto!

    override func tearDown() {
        dstack?.stop()
        moto?.stop()
    }

    func testConfigureRefusesABadBucketInOneSentenceAndSavesAGoodOne() throws {
        // 2 users × 3 calls, then 2 buckets.
        moto = try MotoServer(environment: try MotoS3Fixes.environment().merging(["INITIAL_NO_AUTH_ACTION_COUNT": "8"]) { _, new in new })
        let buckets = [S3BucketOnMotoTests.bucket, S3BucketOnMotoTests.missingBucket, S3BucketOnMotoTests.europeanBucket]
        let full = try makeMotoUser(moto, name: "dstack-full", policy: S3BucketOnMotoTests.policy(buckets: buckets))
        let ec2Only = try makeMotoUser(moto, name: "dstack-ec2", policy: S3BucketOnMotoTests.policy(buckets: []))
        _ = try runPython("""
            import boto3
            s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                              aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            s3.create_bucket(Bucket="\(S3BucketOnMotoTests.bucket)")
            s3.create_bucket(Bucket="\(S3BucketOnMotoTests.europeanBucket)", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            """)
        dstack = try DstackServerOnMoto()
        try dstack.start(environment: [:])

        func configure(_ key: (id: String, secret: String), bucket: String) throws -> CommandResult {
            try dstack.dstack("aws", "configure", "--endpoint-url", moto.url, "--s3-endpoint-url", moto.url,
                              input: "\(key.id)\n\(key.secret)\nus-east-1\n\(bucket)\n")
        }
        for (key, bucket, phrase) in [(full, S3BucketOnMotoTests.missingBucket, "bucket not found"),
                                      (ec2Only, S3BucketOnMotoTests.bucket, "access denied"),
                                      (full, S3BucketOnMotoTests.europeanBucket, "in another region")] {
            let refused = try configure(key, bucket: bucket)
            XCTAssertEqual(refused.status, 1, "\(bucket): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.hasPrefix("dstack: ") && refused.stderr.contains(phrase), "\(bucket): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(whereSeparator: \.isNewline).count, 1, "one sentence: \(refused.stderr)")
            XCTAssertFalse(refused.stderr.contains(key.secret), "the secret is never shown")
            XCTAssertEqual(dstack.configJSON, "", "a refused bucket saves nothing")
        }

        let saved = try configure(full, bucket: "s3://\(S3BucketOnMotoTests.bucket)")
        XCTAssertEqual(saved.status, 0, saved.stderr)
        XCTAssertTrue(dstack.configJSON.contains(S3BucketOnMotoTests.bucket), dstack.configJSON)
        XCTAssertFalse(moto.logText.contains(" 500 -"), "moto answered with a server error:\n\(moto.logText)")
    }
}
