import DstackCore
import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

/// The runner watches its instance's metadata service for spot notices and tells the
/// server of each one at once, once.
final class SpotNoticeTests: XCTestCase {
    func testAnInterruptionNoticeThatAppearsMidRunIsReportedOnceWithItsActionAndTime() throws {
        let server = try FakeRunnerServer()
        defer { server.stop() }
        let metadata = try StubMetadataService()
        defer { metadata.stop() }
        let runner = InProcessRunner(server: server.url, instanceID: "i-0aaa", metadataURL: metadata.baseURL(instance: "i-0aaa"),
                                     watchesMetadata: true, noticeInterval: 0.1)
        defer { runner.stop() }
        XCTAssertTrue(waitUntil { metadata.noticeReads(instance: "i-0aaa") >= 2 }, "the runner polls: \(runner.output)")
        XCTAssertTrue(server.notices.isEmpty, "404 is no notice")

        let time = Date(timeIntervalSince1970: 1_795_960_000) // 2026-11-29T...Z
        metadata.announceInterruption(instance: "i-0aaa", at: time)
        XCTAssertTrue(waitUntil { !server.notices.isEmpty }, runner.output)
        let reads = metadata.noticeReads(instance: "i-0aaa")
        XCTAssertTrue(waitUntil { metadata.noticeReads(instance: "i-0aaa") >= reads + 3 }, "it keeps watching")
        XCTAssertEqual(server.notices, [RunnerAPI.SpotNotice(kind: .interruption, action: "terminate",
                                                             time: ISO8601DateFormatter().string(from: time))],
                       "one report, however often the notice is read again")
        XCTAssertTrue(runner.output.contains("spot interruption notice"), runner.output)
    }

    func testARebalanceRecommendationIsReportedToo() throws {
        let server = try FakeRunnerServer()
        defer { server.stop() }
        let metadata = try StubMetadataService()
        defer { metadata.stop() }
        let runner = InProcessRunner(server: server.url, instanceID: "i-0bbb", metadataURL: metadata.baseURL(instance: "i-0bbb"),
                                     watchesMetadata: true, noticeInterval: 0.1)
        defer { runner.stop() }
        metadata.announceRebalance(instance: "i-0bbb")
        XCTAssertTrue(waitUntil { server.notices.contains { $0.kind == .rebalance } }, runner.output)
        XCTAssertFalse(server.notices.contains { $0.kind == .interruption })
    }

    func testARunnerWhoseInstanceIDWasGivenDoesNotWatchAMetadataServiceItWasNotGiven() throws {
        let server = try FakeRunnerServer()
        defer { server.stop() }
        let metadata = try StubMetadataService()
        defer { metadata.stop() }
        let runner = InProcessRunner(server: server.url, instanceID: "i-0ccc", metadataURL: metadata.baseURL(instance: "i-0ccc"),
                                     noticeInterval: 0.1)
        defer { runner.stop() }
        XCTAssertTrue(waitUntil { server.heartbeats.count >= 3 }, runner.output)
        XCTAssertEqual(metadata.noticeReads(instance: "i-0ccc"), 0)
    }

    func testTheNoticeIntervalAndMetadataURLFlagsAreParsed() {
        guard case .run(let options) = RunnerOptions.parse(["--state-dir", "/s", "--metadata-url", "http://127.0.0.1:9/i-1",
                                                            "--notice-interval", "2s"]) else { return XCTFail("parse failed") }
        XCTAssertTrue(options.metadataURLGiven)
        XCTAssertEqual(options.noticeInterval, 2)
        XCTAssertEqual(RunnerOptions.parse(["--state-dir", "/s", "--metadata-url", "169.254.169.254"]),
                       .invalid("--metadata-url must be an http:// or https:// URL"))
    }
}
