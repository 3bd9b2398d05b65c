import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Multipart uploads on moto, in detail: the runner keeps several parts in flight and
/// they still join into the file, byte for byte, through a proxy failing 30% of them;
/// and an upload no runner will complete (its runner died, its instance went) is
/// aborted by the server, so no parts are left in the bucket.
extension ArtifactsOnS3AndEC2Tests {
    /// 90 MiB and a bit: 6 parts of 16 MiB, the last one short.
    static let partsFileSize = 90 * 1024 * 1024 + 12_345

    static let randomBigFileWorkflow = """
        workflows:
          - name: train
            resources:
              instance_type: m5.large
            commands:
              - head -c \(partsFileSize) /dev/urandom > big.bin
              - sha256sum big.bin
            artifacts: [big.bin]
        """

    func testPartsInFlightTogetherThroughA30PercentFaultProxyJoinIntoTheFileWithItsSHA256() throws {
        try restartMoto(extra: [:])
        try createBucket()
        // The first part's reply is held back 2 s (parts sent one at a time would leave
        // the proxy with one request at once); after it, 3 of every 10 PUTs fail.
        let faults: [FaultProxy.Fault] = [.status(503), .none, .none, .dropRequest, .none, .none, .dropReply, .none, .none, .none]
        let counter = ArtifactRequestCounter()
        let proxy = try FaultProxy(upstream: moto.url) { request, _ in
            guard request.method == "PUT" else { return .none }
            let index = counter.next()
            return index == 0 ? .delay(2) : faults[(index - 1) % faults.count]
        }
        self.proxy = proxy
        let (runID, serverURL, _) = try startTrainOnEC2(s3Endpoint: proxy.url, workflows: Self.randomBigFileWorkflow)
        try eventually("the run to finish", timeout: 300) { try run(runID)?["status"]?.stringValue == "done" }

        let logs = try dstack("logs", runID, serverURL: serverURL)
        let printed = (logs.stdout + logs.stderr).split(separator: "\n").first { $0.hasSuffix("  big.bin") }
        let sha256 = try XCTUnwrap(printed.map { String($0.prefix(64)) }, "the run printed its file's SHA-256: \(logs)\(failureContext)")
        XCTAssertTrue((logs.stdout + logs.stderr).contains("artifacts: complete (1 file"), "\(logs)\(failureContext)")

        let key = "dstack/artifacts/\(runID)/big.bin"
        let objects = try bucketObjects(prefix: "dstack/artifacts/\(runID)/")
        XCTAssertEqual(objects[key]?["size"]?.intValue, Int64(Self.partsFileSize))
        XCTAssertEqual(objects[key]?["sha256"]?.stringValue, sha256, "the parts joined into the run's file, in order")
        XCTAssertTrue(objects[key]?["etag"]?.stringValue?.hasSuffix("-6\"") == true, "6 parts of 16 MiB: \(objects)")
        let list = try JSONValue.parse(try dstack("artifacts", "list", runID, "--json", serverURL: serverURL).stdout)
        XCTAssertEqual(list["state"]?.stringValue, "complete", "\(list)")
        XCTAssertEqual(list["files"]?.arrayValue?.first?["sha256"]?.stringValue, sha256,
                       "the SHA-256 the runner computed while the parts went out is the file's")

        XCTAssertGreaterThanOrEqual(proxy.mostInFlight, 2, "parts were in flight together")
        XCTAssertEqual(Set(proxy.faults.map { "\($0.fault)" }), ["delay(2.0)", "status(503)", "dropRequest", "dropReply"],
                       "every kind of fault was injected: \(proxy.faults)")
        XCTAssertEqual(try openMultipartUploads(), [], "the upload was completed, not left open")
    }

    func testAnUploadWhoseRunnerDiedIsAbortedOnceItsInstanceGoesAndNoPartsStayInTheBucket() throws {
        try restartMoto(extra: [:])
        try createBucket()
        // The bucket refuses every upload, so the runner keeps retrying with the multipart upload open.
        let proxy = try FaultProxy(upstream: moto.url) { request, _ in request.method == "PUT" ? .status(503) : .none }
        self.proxy = proxy
        let (runID, _, instanceID) = try startTrainOnEC2(s3Endpoint: proxy.url, workflows: Self.randomBigFileWorkflow)
        try eventually("the server to open a multipart upload for the run", timeout: 120) {
            try openMultipartUploads().contains("dstack/artifacts/\(runID)/big.bin")
        }

        // The runner dies mid-upload (no manifest, no abort from it), then its spot instance goes.
        for runner in runners where runner.isRunning {
            kill(runner.processIdentifier, SIGKILL)
            runner.waitUntilExit()
        }
        _ = try runPython("""
            import boto3
            boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                         aws_access_key_id="\(key.id)", aws_secret_access_key="\(key.secret)").terminate_instances(InstanceIds=["\(instanceID)"])
            """)

        try eventually("the server to abort the abandoned upload", timeout: 120) { try openMultipartUploads().isEmpty }
        let status = try run(runID)?["status"]?.stringValue
        XCTAssertNotEqual(status, "running", "the run lost its instance")
        XCTAssertTrue(proxy.requests.contains { $0.method == "DELETE" && $0.path.contains("big.bin?uploadId=") },
                      "the server called AbortMultipartUpload: \(proxy.requests.map { "\($0.method) \($0.path)" })")
    }

    /// The keys of the multipart uploads open in the bucket, as boto3 lists them.
    func openMultipartUploads() throws -> [String] {
        let listed = try JSONValue.parse(try runPython("""
            import boto3, json
            s3 = boto3.client("s3", endpoint_url="\(moto.url)", region_name="us-east-1",
                              aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            print(json.dumps([u["Key"] for u in s3.list_multipart_uploads(Bucket="\(Self.bucket)").get("Uploads", [])]))
            """))
        return listed.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
