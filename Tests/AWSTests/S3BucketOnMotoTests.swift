@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// The artifact bucket against moto's S3 with IAM enforcement on, for users holding
/// exactly the seed's EC2 list plus the README's bucket statement. The calls dstack
/// signs itself (HeadBucket, the multipart create/complete/abort) and the presigned
/// ones, sent by plain curl with no credentials, both go through signature and policy
/// checks (moto's, with `MotoS3Fixes` closing its two gaps: HeadBucket asks for
/// s3:ListBucket, and presigned requests are authenticated by botocore's query signer).
final class S3BucketOnMotoTests: XCTestCase {
    static let bucket = "dstack-artifacts"
    static let missingBucket = "dstack-missing"
    static let europeanBucket = "dstack-eu"
    /// 4 users × (create, put policy, create key) + 2 buckets.
    static let setupCalls = 14

    var moto: MotoServer!
    var keys: [String: (id: String, secret: String)] = [:]
    var scratch: URL!

    override func setUpWithError() throws {
        moto = try MotoServer(environment: try MotoS3Fixes.environment().merging(
            ["INITIAL_NO_AUTH_ACTION_COUNT": String(Self.setupCalls)]) { _, new in new })
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("s3-moto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let users: [(String, [String])] = [
            ("seed", [Self.bucket]), ("missing", [Self.missingBucket]), ("europe", [Self.europeanBucket]), ("ec2only", []),
        ]
        var script = """
            import boto3, json
            iam = boto3.client("iam", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            out = {}

            """
        for (name, buckets) in users {
            script += """
                iam.create_user(UserName="dstack-\(name)")
                iam.put_user_policy(UserName="dstack-\(name)", PolicyName="dstack", PolicyDocument='\(Self.policy(buckets: buckets))')
                key = iam.create_access_key(UserName="dstack-\(name)")["AccessKey"]
                out["\(name)"] = [key["AccessKeyId"], key["SecretAccessKey"]]

                """
        }
        script += """
            s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                              aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            s3.create_bucket(Bucket="\(Self.bucket)")
            s3.create_bucket(Bucket="\(Self.europeanBucket)", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            print(json.dumps(out))
            """
        let parsed = try JSONValue.parse(try runPython(script))
        for (name, _) in users {
            let pair = try XCTUnwrap(parsed[name]?.arrayValue?.compactMap(\.stringValue))
            keys[name] = (pair[0], pair[1])
        }
    }

    override func tearDown() {
        moto?.stop()
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// The seed's EC2 statement plus, when buckets are named, the README's bucket statement.
    static func policy(buckets: [String]) -> String {
        var statements = [#"{"Effect": "Allow", "Action": ["# + IAMEnforcementTests.seedActions.map { "\"\($0)\"" }.joined(separator: ", ")
            + #"], "Resource": "*"}"#]
        if !buckets.isEmpty {
            let resources = buckets.flatMap { ["\"arn:aws:s3:::\($0)\"", "\"arn:aws:s3:::\($0)/*\""] }.joined(separator: ", ")
            statements.append(#"{"Effect": "Allow", "Action": ["# + awsArtifactBucketActions.map { "\"\($0)\"" }.joined(separator: ", ")
                + "], \"Resource\": [\(resources)]}")
        }
        return #"{"Version": "2012-10-17", "Statement": ["# + statements.joined(separator: ", ") + "]}"
    }

    private func artifactBucket(_ name: String, user: String) throws -> S3ArtifactBucket {
        let key = try XCTUnwrap(keys[user])
        let settings = ["access_key_id": key.id, "secret_access_key": key.secret, "region": "us-east-1",
                        "s3_endpoint_url": moto.url, "artifact_s3_bucket": name]
        let context = ProviderContext(installationID: "s3-test", home: scratch,
                                      environment: ["HOME": scratch.path, "AWS_EC2_METADATA_DISABLED": "true"])
        return try XCTUnwrap(S3ArtifactBucket.fromSettings(
            settings, context: context, options: .init(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02))))
    }

    /// moto's enforcement off for `body` (its `reset-auth` counts requests before enforcing).
    private func unenforced<T>(_ body: () throws -> T) throws -> T {
        try resetAuth(1_000_000_000)
        defer { try? resetAuth(0) }
        return try body()
    }

    private func resetAuth(_ count: Int) throws {
        // As text: a form body would be parsed away before moto reads it.
        let response = try CurlHTTPClient().sendBlocking(HTTPRequest(method: "POST", url: "\(moto.url)/moto-api/reset-auth",
                                                                     headers: [HTTPHeader("Content-Type", "text/plain")], body: String(count)))
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    /// curl with no credentials at all: what the runner does with a presigned URL.
    private func curl(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/env", ["curl", "-sS", "--fail-with-body"] + arguments,
                       environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
    }

    /// botocore's own query-string SigV4 over the URL, compared with the URL's signature.
    private func assertBotocoreAccepts(_ url: URL, method: String, user: String = "seed",
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        let key = try XCTUnwrap(keys[user])
        let verdict = try runPython("""
            import urllib.parse as up
            from botocore.auth import S3SigV4QueryAuth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            u = up.urlsplit("\(url.absoluteString)")
            q = up.parse_qsl(u.query, keep_blank_values=True)
            given = dict(q)["X-Amz-Signature"]
            rest = up.urlencode([(k, v) for k, v in q if k != "X-Amz-Signature"], quote_via=up.quote, safe="")
            request = AWSRequest(method="\(method)", url=up.urlunsplit((u.scheme, u.netloc, u.path, rest, "")), headers={})
            request.context["timestamp"] = dict(q)["X-Amz-Date"]
            auth = S3SigV4QueryAuth(Credentials("\(key.id)", "\(key.secret)"), "s3", "us-east-1", expires=int(dict(q)["X-Amz-Expires"]))
            canonical = auth.canonical_request(request)
            print("ok" if auth.signature(auth.string_to_sign(request, canonical), request) == given else "mismatch\\n" + canonical)
            """)
        XCTAssertEqual(verdict, "ok", "botocore computes another signature for \(url)", file: file, line: line)
    }

    /// What boto3 sees. With enforcement paused: moto miscomputes the signature of
    /// boto3's own ListObjectsV2 (a query with `encoding-type`) under enforcement.
    private func objectFacts(_ key: String) throws -> JSONValue {
        try JSONValue.parse(try unenforced {
            try runPython("""
                import boto3, hashlib, json
                s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                                  aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
                listed = [o["Key"] for o in s3.list_objects_v2(Bucket="\(Self.bucket)", Prefix="dstack/artifacts/")["Contents"]]
                body = s3.get_object(Bucket="\(Self.bucket)", Key="\(key)")["Body"].read()
                print(json.dumps({"listed": listed, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}))
                """)
        })
    }

    // MARK: The specification

    func testAPresignedPUTFromCurlWithoutCredentialsLandsUnderTheRunsPrefix() throws {
        let bucket = try artifactBucket(Self.bucket, user: "seed")
        let key = ArtifactBucketKey.key(runID: "run-1", path: "checkpoints/model 1.bin")
        let url = try bucket.presignedPut(key: key, expiresIn: 600)
        XCTAssertFalse(url.absoluteString.contains(try XCTUnwrap(keys["seed"]).secret), "the secret never goes into a URL")
        try assertBotocoreAccepts(url, method: "PUT")
        let file = scratch.appendingPathComponent("model.bin")
        try Data("weights, version 1\n".utf8).write(to: file)

        let put = try curl(["-X", "PUT", "--upload-file", file.path, url.absoluteString])
        XCTAssertEqual(put.status, 0, put.stderr + put.stdout)

        let facts = try objectFacts(key)
        XCTAssertEqual(facts["listed"], .array([.string("dstack/artifacts/run-1/checkpoints/model 1.bin")]))
        XCTAssertEqual(facts["sha256"]?.stringValue, Crypto.hex(Crypto.sha256(Array("weights, version 1\n".utf8))))

        // And a presigned GET hands the same bytes back.
        let get = try bucket.presignedGet(key: key, expiresIn: 600)
        try assertBotocoreAccepts(get, method: "GET")
        let fetched = try curl([get.absoluteString])
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        XCTAssertEqual(fetched.stdout, "weights, version 1\n")
    }

    func testAMultipartUploadOver64MiBThroughPresignedPartsCompletes() async throws {
        let bucket = try artifactBucket(Self.bucket, user: "seed")
        let key = ArtifactBucketKey.key(runID: "run-2", path: "big.bin")
        // Three parts: two of 32 MiB and a last one of 1 MiB, 65 MiB in all.
        let sizes = [32 << 20, 32 << 20, 1 << 20]
        var whole: [UInt8] = []
        var partFiles: [URL] = []
        for (index, size) in sizes.enumerated() {
            var bytes = [UInt8](repeating: 0, count: size)
            for i in stride(from: 0, to: size, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096 + index * 7) }
            whole += bytes
            let file = scratch.appendingPathComponent("part-\(index + 1)")
            try Data(bytes).write(to: file)
            partFiles.append(file)
        }

        let uploadID = try await bucket.createMultipartUpload(key: key)
        var parts: [ArtifactBucketPart] = []
        for (index, file) in partFiles.enumerated() {
            let url = try bucket.presignedUploadPart(key: key, uploadID: uploadID, partNumber: index + 1, expiresIn: 600)
            if index == 0 { try assertBotocoreAccepts(url, method: "PUT") }
            let headers = scratch.appendingPathComponent("headers-\(index + 1)")
            let put = try curl(["-X", "PUT", "--upload-file", file.path, "-D", headers.path, "-o", "/dev/null", url.absoluteString])
            XCTAssertEqual(put.status, 0, put.stderr)
            let etag = try String(contentsOf: headers, encoding: .utf8).split(whereSeparator: \.isNewline)
                .first { $0.lowercased().hasPrefix("etag:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
            parts.append(ArtifactBucketPart(partNumber: index + 1, etag: try XCTUnwrap(etag, "S3 sent no ETag for part \(index + 1)")))
        }
        try await bucket.completeMultipartUpload(key: key, uploadID: uploadID, parts: parts.reversed())

        let facts = try objectFacts(key)
        XCTAssertEqual(facts["size"], .int(65 << 20))
        XCTAssertEqual(facts["sha256"]?.stringValue, Crypto.hex(Crypto.sha256(whole)))
    }

    func testAnAbortedUploadIsGoneAndAbortingItAgainIsNoError() async throws {
        let bucket = try artifactBucket(Self.bucket, user: "seed")
        let key = ArtifactBucketKey.key(runID: "run-3", path: "half.bin")
        let uploadID = try await bucket.createMultipartUpload(key: key)
        try await bucket.abortMultipartUpload(key: key, uploadID: uploadID)
        try await bucket.abortMultipartUpload(key: key, uploadID: uploadID)
        let open = try unenforced {
            try runPython("""
                import boto3
                s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                                  aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
                print(len(s3.list_multipart_uploads(Bucket="\(Self.bucket)").get("Uploads", [])))
                """)
        }
        XCTAssertEqual(open, "0")
    }

    func testAPresignedURLIsHeldToItsSignersPolicyAndToItsSignature() throws {
        let file = scratch.appendingPathComponent("small")
        try Data("x".utf8).write(to: file)
        let key = ArtifactBucketKey.key(runID: "run-4", path: "f")
        // Signed by a user without the bucket statement: S3 refuses it.
        let unallowed = try artifactBucket(Self.bucket, user: "ec2only").presignedPut(key: key, expiresIn: 600)
        let refused = try curl(["-X", "PUT", "--upload-file", file.path, unallowed.absoluteString])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stdout.contains("AccessDenied"), refused.stdout + refused.stderr)
        // A URL whose signed part was changed (another key) is refused too.
        let good = try artifactBucket(Self.bucket, user: "seed").presignedPut(key: key, expiresIn: 600).absoluteString
        let tampered = good.replacingOccurrences(of: "/run-4/f?", with: "/run-4/g?")
        let mismatch = try curl(["-X", "PUT", "--upload-file", file.path, tampered])
        XCTAssertTrue(mismatch.stdout.contains("SignatureDoesNotMatch"), mismatch.stdout + mismatch.stderr)
        XCTAssertEqual(try curl(["-X", "PUT", "--upload-file", file.path, good]).status, 0)
        XCTAssertFalse(moto.logText.contains(" 500 -"), "moto answered with a server error:\n\(moto.logText)")
    }

    func testTheBucketStatementPassesHeadBucket() async throws {
        try await artifactBucket(Self.bucket, user: "seed").check()
    }

    func testHeadBucketOfAMissingBucketSaysBucketNotFound() async throws {
        try await assertCheck(Self.missingBucket, user: "missing", says: "bucket not found")
    }

    func testHeadBucketWithoutTheBucketStatementSaysAccessDenied() async throws {
        try await assertCheck(Self.bucket, user: "ec2only", says: "access denied")
    }

    func testHeadBucketOfABucketInEuropeSaysInAnotherRegion() async throws {
        try await assertCheck(Self.europeanBucket, user: "europe", says: "in another region (eu-west-1, not us-east-1)")
    }

    private func assertCheck(_ name: String, user: String, says phrase: String,
                             file: StaticString = #filePath, line: UInt = #line) async throws {
        do {
            try await artifactBucket(name, user: user).check()
            XCTFail("HeadBucket of \(name) as \(user) passed", file: file, line: line)
        } catch let error as ProviderError {
            XCTAssertTrue(error.userMessage.contains(phrase), error.userMessage, file: file, line: line)
            XCTAssertFalse(error.userMessage.contains("\n"), "one sentence", file: file, line: line)
        }
        XCTAssertFalse(moto.logText.contains(" 500 -"), "moto answered with a server error:\n\(moto.logText)", file: file, line: line)
    }

    func testTheREADMEsBucketStatementIsExactlyTheOneTested() throws {
        XCTAssertEqual(awsArtifactBucketActions, ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:AbortMultipartUpload"])
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(awsArtifactBucketPolicyStatement(bucket: "BUCKET")),
                      "README.md shows the bucket statement as awsArtifactBucketPolicyStatement prints it")
    }
}
