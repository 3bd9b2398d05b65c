import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Issue 9's two halves together on moto: a run on an EC2 (moto) spot instance, whose
/// runner is started from the launch's user data, uploads its artifacts straight to the
/// configured S3 bucket through URLs the server presigns (a file over 64 MiB as a
/// multipart upload); boto3 sees every object under `dstack/artifacts/RUN_ID/` with the
/// runner's bytes; `dstack artifacts list` calls them complete and `dstack artifacts
/// download` verifies them and matches byte for byte. Then the same under moto's IAM
/// enforcement with the seed's EC2 list plus exactly the README's bucket statement, and
/// through a proxy that fails 30% of the upload requests.
final class ArtifactsOnS3AndEC2Tests: EC2EndToEndTestCase {
    static let bucket = "dstack-e2e-artifacts"
    /// 70 MiB: over the 64 MiB multipart threshold.
    static let bigSize = 70 * 1024 * 1024
    /// The run writes every byte from `yes`, so the test knows them without reading them back.
    static let bigLine = "0123456789abcdef"

    var runners: [Process] = []
    var proxy: FaultProxy?
    /// The key boto3 and dstack use (the IAM user's under enforcement).
    var key: (id: String, secret: String) = ("AKIDEC2E2E", "ec2-e2e-secret-value")
    /// Whether moto enforces IAM (then boto3's look at the bucket pauses it, and resumes it).
    var enforcing = false

    override func tearDown() {
        for runner in runners where runner.isRunning { runner.terminate(); runner.waitUntilExit() }
        proxy?.stop()
        super.tearDown()
    }

    static let workflows = """
        workflows:
          - name: train
            resources:
              instance_type: m5.large
            commands:
              - mkdir -p checkpoints/epoch-1
              - seq 1 50000 > checkpoints/epoch-1/model.txt
              - echo 'epoch 1' > checkpoints/notes.txt
              - echo '{"loss":0.25}' > metrics.json
              - yes \(bigLine) | head -c \(bigSize) > big.bin
            artifacts:
              - metrics.json
              - checkpoints
              - path: big.bin
        """

    /// Path → the bytes the run writes.
    static var expected: [String: Data] {
        let big = Data(String(repeating: bigLine + "\n", count: bigSize / (bigLine.count + 1) + 1).utf8.prefix(bigSize))
        return ["metrics.json": Data("{\"loss\":0.25}\n".utf8), "checkpoints/notes.txt": Data("epoch 1\n".utf8),
                "checkpoints/epoch-1/model.txt": Data((1...50000).map { "\($0)\n" }.joined().utf8), "big.bin": big]
    }

    // MARK: - Tests

    func testARunOnEC2UploadsItsArtifactsToTheBucketThroughPresignedURLsAndTheyDownloadVerified() throws {
        try restartMoto(extra: [:])
        try createBucket()
        try runAndCheck(s3Endpoint: moto.url)
    }

    func testTheSameUnderIAMEnforcementWithTheSeedListPlusExactlyTheBucketStatement() throws {
        // 3 calls make the user, 1 the bucket; everything after is signed and checked.
        try restartMoto(extra: ["INITIAL_NO_AUTH_ACTION_COUNT": "4"])
        enforcing = true
        key = try makeMotoUser(moto, name: "dstack", policy: S3BucketOnMotoTests.policy(buckets: [Self.bucket]))
        try createBucket()
        try runAndCheck(s3Endpoint: moto.url)
        XCTAssertFalse(moto.logText.contains(" 500 -"), "moto answered with a server error:\n\(moto.logText)")
        XCTAssertTrue(moto.logText.contains("X-Amz-Signature="), "the runner sent presigned requests")
    }

    func testUploadsCompleteThroughAProxyThatFails30PercentOfThemAndTheChecksumsMatch() throws {
        try restartMoto(extra: [:])
        try createBucket()
        // 3 of every 10 upload requests (PUTs of objects and parts) fail: a 503, a
        // request that never arrives, a reply lost after S3 stored the bytes.
        let faults: [FaultProxy.Fault] = [.status(503), .none, .none, .dropRequest, .none, .none, .dropReply, .none, .none, .none]
        let counter = ArtifactRequestCounter()
        let proxy = try FaultProxy(upstream: moto.url) { request, _ in
            request.method == "PUT" ? faults[counter.next() % faults.count] : .none
        }
        self.proxy = proxy
        try runAndCheck(s3Endpoint: proxy.url)
        let injected = proxy.faults.filter { $0.request.hasPrefix("PUT ") }
        let puts = proxy.requests.filter { $0.method == "PUT" }.count
        // Every PUT the runner sent went through the rule: 3 of each 10 in turn failed.
        XCTAssertEqual(injected.count, (0..<puts).filter { faults[$0 % faults.count] != .none }.count, "\(injected)")
        XCTAssertGreaterThanOrEqual(injected.count, 3, "every kind of fault was injected: \(injected)")
    }

    // MARK: - The flow

    func restartMoto(extra: [String: String]) throws {
        moto.stop()
        moto = try MotoServer(environment: try MotoS3Fixes.environment().merging(extra) { _, new in new })
    }

    func createBucket() throws {
        _ = try runPython("""
            import boto3
            boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                         aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup").create_bucket(Bucket="\(Self.bucket)")
            """)
    }

    /// Configures AWS on moto with the bucket (its S3 requests to `s3Endpoint`), starts
    /// the server, submits the `train` workflow of `workflows` and boots the instance
    /// moto launches for it on this machine.
    func startTrainOnEC2(s3Endpoint: String, workflows: String = ArtifactsOnS3AndEC2Tests.workflows) throws
        -> (runID: String, serverURL: String, instanceID: String) {
        try dstack("aws", "configure", "--access-key-id", key.id, "--secret-access-key", key.secret, "--region", "us-east-1",
                   "--endpoint-url", moto.url, "--s3-endpoint-url", s3Endpoint, "--artifact-s3-bucket", Self.bucket)
        try dstack("autoscale", "allow", "m5.large", "--max", "1")
        let port = try startServer(["--allow-loopback-advertise"])
        let serverURL = "http://127.0.0.1:\(port)"

        let project = home.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: project.appendingPathComponent(".dstack"), withIntermediateDirectories: true)
        try workflows.write(to: project.appendingPathComponent(".dstack/workflows.yaml"), atomically: true, encoding: .utf8)
        let runID = try dstack("run", "--detach", "train", serverURL: serverURL, in: project)
            .stdout.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertFalse(runID.isEmpty)

        var launched: (id: String, userData: String)?
        try eventually("a spot instance in the emulator", timeout: 60) {
            launched = try launchedUserData().first.map { ($0.key, $0.value) }
            return launched != nil
        }
        let (instanceID, userData) = try XCTUnwrap(launched)
        for credential in [key.secret, key.id, "AWS_SECRET_ACCESS_KEY"] {
            XCTAssertFalse(userData.contains(credential), "the user data carries no cloud credentials (\(credential))")
        }
        try boot(instanceID: instanceID, userData: userData)
        return (runID, serverURL, instanceID)
    }

    private func runAndCheck(s3Endpoint: String) throws {
        let (runID, serverURL, _) = try startTrainOnEC2(s3Endpoint: s3Endpoint)

        try eventually("the run to finish and its artifacts to be complete", timeout: 300) {
            guard let record = try run(runID), record["status"]?.stringValue == "done" else { return false }
            return true
        }
        let logs = try dstack("logs", runID, serverURL: serverURL)
        XCTAssertTrue(logs.stdout.contains("artifacts: complete (4 files") || logs.stderr.contains("artifacts: complete (4 files"),
                      "\(logs)\nrunner:\n\(failureContext)")

        // boto3's view of the bucket: every object, its bytes, and a multipart ETag for the big one.
        let prefix = "dstack/artifacts/\(runID)/"
        let objects = try bucketObjects(prefix: prefix)
        let expected = Self.expected
        XCTAssertEqual(Set(objects.objectValue?.entries.map(\.key) ?? []), Set(expected.keys.map { prefix + $0 }), "\(objects)")
        for (path, bytes) in expected {
            let object = objects[prefix + path]
            XCTAssertEqual(object?["size"]?.intValue, Int64(bytes.count), path)
            XCTAssertEqual(object?["sha256"]?.stringValue, SHA256Digest.hex(of: [UInt8](bytes)), path)
        }
        XCTAssertTrue(objects[prefix + "big.bin"]?["etag"]?.stringValue?.contains("-") == true,
                      "big.bin went as a multipart upload: \(objects)")
        XCTAssertFalse(objects[prefix + "metrics.json"]?["etag"]?.stringValue?.contains("-") ?? true, "a small file goes in one PUT")

        // The CLI's view: complete, in the bucket; the download verifies and matches.
        let list = try JSONValue.parse(try dstack("artifacts", "list", runID, "--json", serverURL: serverURL).stdout)
        XCTAssertEqual(list["state"]?.stringValue, "complete", "\(list)")
        XCTAssertEqual(list["location"]?.stringValue, "s3://\(Self.bucket)", "\(list)")
        XCTAssertEqual(Set(list["files"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []), Set(expected.keys))
        for file in list["files"]?.arrayValue ?? [] {
            let path = file["path"]?.stringValue ?? ""
            XCTAssertEqual(file["sha256"]?.stringValue, expected[path].map { SHA256Digest.hex(of: [UInt8]($0)) }, path)
        }
        let target = home.appendingPathComponent("download")
        let download = try runCommand(BuiltProducts.path("dstack"), ["artifacts", "download", runID, target.path],
                                      environment: environment.merging(["DSTACK_SERVER_URL": serverURL]) { _, new in new })
        XCTAssertEqual(download.status, 0, "\(download)\nmoto:\n\(moto.logText.suffix(3000))")
        for (path, bytes) in expected {
            XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent(path)), bytes, "\(path) byte for byte")
        }
    }

    /// Boots the instance on this machine, as `AutoscalerOnEC2Tests` does, with moto's ID.
    func boot(instanceID: String, userData: String) throws {
        let script = home.appendingPathComponent("\(instanceID).sh")
        try userData.write(to: script, atomically: true, encoding: .utf8)
        let runner = Process()
        runner.executableURL = URL(fileURLWithPath: "/bin/sh")
        runner.arguments = [script.path]
        runner.environment = ["PATH": "/usr/bin:/bin", "DSTACK_RUNNER": home.appendingPathComponent("bin-\(instanceID)/dstack-runner").path,
                              "DSTACK_INSTANCE_ID": instanceID, "DSTACK_ORPHAN_ACTION": "exit",
                              "DSTACK_INSTANCE_DIR": home.appendingPathComponent("runner-\(instanceID)").path]
        let log = home.appendingPathComponent("runner-\(instanceID).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        runner.standardOutput = handle
        runner.standardError = handle
        try runner.run()
        runners.append(runner)
    }

    override var failureContext: String {
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: home.path))?.filter { $0.hasPrefix("runner-") && $0.hasSuffix(".log") } ?? []
        return logs.map { "\n\($0):\n" + ((try? String(contentsOf: home.appendingPathComponent($0), encoding: .utf8)) ?? "") }.joined()
    }

    /// Instances in moto (id → user data), asked with the test's key.
    func launchedUserData() throws -> [String: String] {
        let parsed = try JSONValue.parse(try runPython("""
            import base64, boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="\(key.id)", aws_secret_access_key="\(key.secret)")
            out = {}
            for r in ec2.describe_instances()["Reservations"]:
                for i in r["Instances"]:
                    raw = ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="userData").get("UserData", {}).get("Value", "")
                    out[i["InstanceId"]] = base64.b64decode(raw).decode() if raw else ""
            print(json.dumps(out))
            """))
        var result: [String: String] = [:]
        for (id, userData) in parsed.objectValue?.entries ?? [] { result[id] = userData.stringValue ?? "" }
        return result
    }

    /// Key → size, SHA-256 and ETag of every object under `prefix`, as boto3 reads them.
    /// With moto's enforcement paused: its check of boto3's own ListObjectsV2 is wrong.
    func bucketObjects(prefix: String) throws -> JSONValue {
        if enforcing { try setAuthCount(1_000_000_000) }
        defer { if enforcing { try? setAuthCount(0) } }
        return try JSONValue.parse(try runPython("""
            import boto3, hashlib, json
            s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                              aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            out = {}
            for o in s3.list_objects_v2(Bucket="\(Self.bucket)", Prefix="\(prefix)").get("Contents", []):
                body = s3.get_object(Bucket="\(Self.bucket)", Key=o["Key"])["Body"].read()
                out[o["Key"]] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "etag": o["ETag"]}
            print(json.dumps(out))
            """))
    }

    func setAuthCount(_ count: Int) throws {
        let response = try CurlHTTPClient().sendBlocking(HTTPRequest(method: "POST", url: "\(moto.url)/moto-api/reset-auth",
                                                                     headers: [HTTPHeader("Content-Type", "text/plain")], body: String(count)))
        XCTAssertEqual(response.status, 200, response.bodyText)
    }
}

/// A thread-safe counter for the proxy's rule.
// @unchecked: `value` is guarded by `lock`.
final class ArtifactRequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
}
