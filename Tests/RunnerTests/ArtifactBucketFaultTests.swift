@testable import DstackRunnerKit
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The runner's bucket branch under faults: uploads to presigned URLs, with multipart
/// parts, expired URLs (403) that the server signs again, 5xx and dropped connections.
///
/// A TEST DOUBLE, for fault injection only: one LocalHTTPServer plays the server's
/// artifact routes and the bucket (its "presigned" URLs are plain URLs on itself). The
/// real bucket (S3 through the AWS plugin) is tested against moto end to end.
final class ArtifactBucketFaultTests: XCTestCase {
    /// The fake: plans a multipart upload with small parts; each part's URL carries a
    /// generation, and the first generation of part 2 has "expired"; every third part
    /// PUT first answers 503 and part 3's first connection is dropped.
    final class FakeBucket: @unchecked Sendable { // `lock` guards everything below it
        let lock = NSLock()
        var server: LocalHTTPServer!
        var plans = 0
        var parts: [Int: [UInt8]] = [:]
        var partTries: [Int: Int] = [:]
        var completed: RunnerAPI.CompleteUpload?
        var manifest: RunnerAPI.Manifest?
        var singlePut: [UInt8]?
        let partSize: Int
        /// Every bucket PUT answers 500: a bucket that never recovers.
        let down: Bool

        init(partSize: Int, down: Bool = false) throws {
            self.partSize = partSize
            self.down = down
            server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
        }

        func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
            lock.withLock {
                let path = request.path
                if path.hasSuffix("/artifacts/uploads") {
                    plans += 1
                    let ask = try! RunnerAPI.UploadRequest(json: try! JSONValue.parse(request.bodyText))
                    guard ask.size > partSize else {
                        return json(RunnerAPI.UploadPlan(url: server.url + "/bucket/single?gen=\(plans)").json)
                    }
                    let count = (ask.size + partSize - 1) / partSize
                    let urls = (1...count).map { RunnerAPI.PartURL(partNumber: $0, url: server.url + "/bucket/part/\($0)?gen=\(plans)") }
                    return json(RunnerAPI.UploadPlan(uploadID: "upload-1", partSize: partSize, parts: urls).json)
                }
                if down, path.hasPrefix("/bucket/") { return LocalHTTPServer.Response(status: 500, body: "InternalError") }
                if path.hasPrefix("/bucket/part/") {
                    let number = Int(path.dropFirst("/bucket/part/".count).prefix { $0 != "?" })!
                    partTries[number, default: 0] += 1
                    if number == 2, path.hasSuffix("gen=1") { return LocalHTTPServer.Response(status: 403, body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>") }
                    if number == 3, partTries[number] == 1 { return LocalHTTPServer.Response(dropConnection: true) }
                    if number % 3 == 0, partTries[number] == 2 { return LocalHTTPServer.Response(status: 503, body: "SlowDown") }
                    parts[number] = request.body
                    return LocalHTTPServer.Response(status: 200, headers: [("ETag", "\"etag-\(number)\"")])
                }
                if path.hasPrefix("/bucket/single") {
                    singlePut = request.body
                    return LocalHTTPServer.Response(status: 200, headers: [("ETag", "\"single\"")])
                }
                if path.hasSuffix("/artifacts/complete") {
                    completed = try! RunnerAPI.CompleteUpload(json: try! JSONValue.parse(request.bodyText))
                    return LocalHTTPServer.Response(status: 204)
                }
                if path.hasSuffix("/artifacts/manifest") {
                    manifest = try! RunnerAPI.Manifest(json: try! JSONValue.parse(request.bodyText))
                    return LocalHTTPServer.Response(status: 204)
                }
                return LocalHTTPServer.Response(status: 404, body: #"{"error":"no such route"}"#)
            }
        }

        private func json(_ value: JSONValue) -> LocalHTTPServer.Response {
            LocalHTTPServer.Response(status: 200, headers: [("Content-Type", "application/json")], body: value.serialized())
        }
    }

    private func uploader(_ fake: FakeBucket, notes: LineBox) -> ArtifactUploader {
        let client = RunnerAPIClient(serverURL: fake.server.url, instanceID: "i-1", pollWait: 1, contact: ContactClock(),
                                     log: RunnerLog(sink: { _ in }), lifetime: Lifetime())
        var uploader = ArtifactUploader(transfer: ArtifactTransfer(client: client), lifetime: client.lifetime,
                                        note: { notes.append($0 + "\n") }, stopped: { false })
        uploader.backoff = Backoff(base: 0.01, cap: 0.05)
        return uploader
    }

    func testAMultipartUploadSurvivesAnExpiredURLA503AndADroppedConnection() throws {
        let fake = try FakeBucket(partSize: 100_000)
        defer { fake.server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bucket-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("out"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let big = (0..<350_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(big).write(to: directory.appendingPathComponent("out/model.bin"))
        try Data("small".utf8).write(to: directory.appendingPathComponent("out/small.txt"))

        let notes = LineBox()
        let line = uploader(fake, notes: notes).upload(paths: ["out"], from: directory.path, runID: "run-1", attempt: 1)

        XCTAssertEqual(line, "artifacts: complete (2 files, 341.8 KB)", notes.text)
        fake.lock.withLock {
            XCTAssertEqual(fake.parts.keys.sorted(), [1, 2, 3, 4])
            XCTAssertEqual(Array((1...4).map { fake.parts[$0]! }.joined()), big, "the parts join into the file, byte for byte")
            XCTAssertGreaterThanOrEqual(fake.plans, 3, "the expired URL was signed again (plans: \(fake.plans))")
            XCTAssertEqual(fake.completed?.uploadID, "upload-1")
            XCTAssertEqual(fake.completed?.parts.map(\.partNumber), [1, 2, 3, 4])
            XCTAssertEqual(fake.completed?.parts.map(\.etag), (1...4).map { "\"etag-\($0)\"" })
            XCTAssertEqual(fake.singlePut, Array("small".utf8))
            XCTAssertEqual(fake.manifest?.complete, true)
            XCTAssertEqual(fake.manifest?.files.map(\.path), ["out/model.bin", "out/small.txt"])
            XCTAssertEqual(fake.manifest?.files.first?.sha256, SHA256Digest.hex(of: big))
        }
    }

    func testABucketThatNeverRecoversEndsInAnIncompleteManifestWithTheReason() throws {
        let fake = try FakeBucket(partSize: 100_000, down: true)
        defer { fake.server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bucket-down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("checkpoint".utf8).write(to: directory.appendingPathComponent("model.bin"))

        let notes = LineBox()
        let line = uploader(fake, notes: notes).upload(paths: ["model.bin"], from: directory.path, runID: "run-1", attempt: 1)

        XCTAssertEqual(line, "artifacts: incomplete (1 of 1 files failed to upload; the first: model.bin: the bucket answered 500 (after 10 tries))")
        XCTAssertTrue(notes.text.contains("artifact 'model.bin' was not uploaded: the bucket answered 500 (after 10 tries)"), notes.text)
        fake.lock.withLock {
            XCTAssertEqual(fake.manifest?.complete, false, "the manifest is still written, last")
            XCTAssertEqual(fake.manifest?.files, [])
            XCTAssertEqual(fake.manifest?.reason, "1 of 1 files failed to upload; the first: model.bin: the bucket answered 500 (after 10 tries)")
        }
    }
}
