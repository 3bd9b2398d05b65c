@testable import DstackRunnerKit
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A big file's multipart upload: its parts go out several at a time, each the right
/// bytes of the file, and its SHA-256 is computed while they do (the runner asks where
/// to upload before it has the hash), yet the manifest carries the file's true hash.
///
/// A TEST DOUBLE plays the server's artifact routes and the bucket, one LocalHTTPServer;
/// S3 itself (moto) is in AWSTests.ArtifactsOnS3AndEC2Tests.
final class MultipartConcurrencyTests: XCTestCase {
    /// The fake: 8 MiB parts; each part's reply waits (up to 5 s) until another part is
    /// in flight too, so parts sent one at a time would show a high-water mark of 1.
    final class ConcurrentBucket: @unchecked Sendable { // `lock` guards everything below it
        let lock = NSLock()
        var server: LocalHTTPServer!
        var asked: [RunnerAPI.UploadRequest] = []
        var parts: [Int: [UInt8]] = [:]
        var inFlight = 0
        var mostInFlight = 0
        var completed: RunnerAPI.CompleteUpload?
        var manifest: RunnerAPI.Manifest?
        static let partSize = 8 << 20

        init() throws {
            server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
        }

        func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
            let path = request.path
            if path.hasPrefix("/bucket/part/") {
                let number = Int(path.dropFirst("/bucket/part/".count).prefix { $0 != "?" })!
                lock.withLock {
                    inFlight += 1
                    mostInFlight = max(mostInFlight, inFlight)
                }
                let deadline = Date().addingTimeInterval(5)
                while lock.withLock({ mostInFlight < 2 }), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
                return lock.withLock {
                    inFlight -= 1
                    parts[number] = request.body
                    return LocalHTTPServer.Response(status: 200, headers: [("ETag", "\"etag-\(number)\"")])
                }
            }
            return lock.withLock {
                if path.hasSuffix("/artifacts/uploads") {
                    let ask = try! RunnerAPI.UploadRequest(json: try! JSONValue.parse(request.bodyText))
                    asked.append(ask)
                    let count = (ask.size + Self.partSize - 1) / Self.partSize
                    let urls = (1...count).map { RunnerAPI.PartURL(partNumber: $0, url: server.url + "/bucket/part/\($0)") }
                    return json(RunnerAPI.UploadPlan(uploadID: "upload-1", partSize: Self.partSize, parts: urls).json)
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

    func testABigFilesPartsGoOutTogetherAndItsSHA256IsComputedAlongsideThem() throws {
        let bucket = try ConcurrentBucket()
        defer { bucket.server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("multipart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Over the 64 MiB threshold, not a whole number of parts; random, so no two parts alike.
        let size = RunnerAPI.multipartThreshold + 3 * ConcurrentBucket.partSize / 2 + 17
        let big = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: size)
        XCTAssertEqual(big.count, size)
        try big.write(to: directory.appendingPathComponent("model.bin"))
        let fileHash = SHA256Digest()
        big.withUnsafeBytes { fileHash.update($0) }
        let expectedHash = fileHash.finalHex()

        let client = RunnerAPIClient(serverURL: bucket.server.url, instanceID: "i-1", pollWait: 1, contact: ContactClock(),
                                     log: RunnerLog(sink: { _ in }), lifetime: Lifetime())
        let notes = LineBox()
        let uploader = ArtifactUploader(transfer: ArtifactTransfer(client: client), lifetime: client.lifetime,
                                        note: { notes.append($0 + "\n") }, stopped: { false })
        let line = uploader.upload(paths: ["model.bin"], from: directory.path, runID: "run-1", attempt: 1)

        XCTAssertEqual(line, "artifacts: complete (1 file, 76.0 MB)", notes.text)
        let count = (size + ConcurrentBucket.partSize - 1) / ConcurrentBucket.partSize
        bucket.lock.withLock {
            XCTAssertGreaterThanOrEqual(bucket.mostInFlight, 2, "parts were in flight together")
            XCTAssertEqual(bucket.asked.map(\.sha256), [nil], "the runner asked before it had hashed the file")
            XCTAssertEqual(bucket.parts.keys.sorted(), Array(1...count))
            let joined = SHA256Digest()
            for number in 1...count { joined.update(bucket.parts[number] ?? []) }
            XCTAssertEqual(joined.finalHex(), expectedHash, "the parts join into the file, byte for byte")
            XCTAssertEqual(bucket.completed?.parts.map(\.partNumber), Array(1...count))
            XCTAssertEqual(bucket.completed?.parts.map(\.etag), (1...count).map { "\"etag-\($0)\"" })
            XCTAssertEqual(bucket.manifest?.files.first?.sha256, expectedHash, "the hash computed alongside is the file's")
            XCTAssertEqual(bucket.manifest?.complete, true)
        }
    }
}
