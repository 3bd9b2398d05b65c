@testable import DstackCore
import Foundation
import XCTest

/// A runner that asks again to complete a multipart upload (its call gave up while the
/// bucket was still joining the parts) must not make the bucket join them twice.
final class MultipartCompletionsTests: XCTestCase {
    /// Counts the bucket's completions; each waits until the test lets it finish.
    actor Bucket {
        private(set) var completions = 0
        private var started: [CheckedContinuation<Void, Never>] = []
        private var held: [CheckedContinuation<Void, Never>] = []
        var failNext = false

        func complete() async throws {
            completions += 1
            started.forEach { $0.resume() }
            started = []
            await withCheckedContinuation { held.append($0) }
            if failNext {
                failNext = false
                throw CancellationError()
            }
        }

        /// Returns once a completion has begun.
        func waitUntilStarted() async {
            if completions > 0 { return }
            await withCheckedContinuation { started.append($0) }
        }

        func release() {
            held.forEach { $0.resume() }
            held = []
        }

        func failTheNextOne() { failNext = true }
    }

    func testASecondAskWhileTheFirstIsUnderWayWaitsForItInsteadOfCompletingAgain() async throws {
        let completions = MultipartCompletions()
        let bucket = Bucket()
        let first = Task { try await completions.complete("upload-1") { try await bucket.complete() } }
        await bucket.waitUntilStarted()
        let second = Task { try await completions.complete("upload-1") { try await bucket.complete() } }
        // The second ask is queued behind the first; let the bucket finish the one completion.
        while await completions.joined["upload-1"] == nil { await Task.yield() }
        await bucket.release()
        try await first.value
        try await second.value
        let count = await bucket.completions
        XCTAssertEqual(count, 1, "both asks are answered by one completion in the bucket")
    }

    func testAnAskForACompletionThatFinishedIsAnsweredWithoutTheBucket() async throws {
        let completions = MultipartCompletions()
        let bucket = Bucket()
        let first = Task { try await completions.complete("upload-1") { try await bucket.complete() } }
        await bucket.waitUntilStarted()
        await bucket.release()
        try await first.value
        try await completions.complete("upload-1") { try await bucket.complete() }
        let count = await bucket.completions
        XCTAssertEqual(count, 1)
        let finished = await completions.hasFinished("upload-1")
        XCTAssertTrue(finished)
        let other = await completions.hasFinished("upload-2")
        XCTAssertFalse(other, "only the upload that was completed counts as finished")
    }

    func testACompletionThatFailedIsTriedAgainOnTheNextAsk() async throws {
        let completions = MultipartCompletions()
        let bucket = Bucket()
        await bucket.failTheNextOne()
        let first = Task { try await completions.complete("upload-1") { try await bucket.complete() } }
        await bucket.waitUntilStarted()
        await bucket.release()
        do {
            try await first.value
            XCTFail("the bucket's failure reaches the caller")
        } catch {}
        let finished = await completions.hasFinished("upload-1")
        XCTAssertFalse(finished)
        let second = Task { try await completions.complete("upload-1") { try await bucket.complete() } }
        while await bucket.completions < 2 { await Task.yield() }
        await bucket.release()
        try await second.value
        let count = await bucket.completions
        XCTAssertEqual(count, 2, "the failed completion was sent again")
    }

    func testOnlyTheLatestFinishedUploadsAreRemembered() async throws {
        let completions = MultipartCompletions(remembered: 2)
        for id in ["a", "b", "c"] { try await completions.complete(id) {} }
        let (a, b, c) = (await completions.hasFinished("a"), await completions.hasFinished("b"), await completions.hasFinished("c"))
        XCTAssertEqual([a, b, c], [false, true, true], "the oldest finished upload was forgotten")
    }
}
