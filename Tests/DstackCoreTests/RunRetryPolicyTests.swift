import DstackCore
import XCTest

/// A workflow's `retry:`, in the format dstack users know.
final class RunRetryPolicyTests: XCTestCase {
    private func workflow(_ retry: String) throws -> Workflow {
        let file = try WorkflowFile.parse("""
            workflows:
              - name: train
                commands: [python train.py]
            \(retry)
            """, file: "w.yaml")
        return try XCTUnwrap(file.workflow(named: "train"))
    }

    func testEventsAndADurationAreRead() throws {
        let train = try workflow("""
                retry:
                  on_events: [interruption, no-capacity, error]
                  duration: 1h
            """)
        XCTAssertEqual(train.retry, RunRetryPolicy(onEvents: [.interruption, .noCapacity, .error], duration: 3600))
    }

    func testNoRetryKeyIsTheDefaultAndTrueAndFalseAreShortHands() throws {
        XCTAssertNil(try workflow("").retry)
        XCTAssertEqual(try workflow("    retry: true").retry, .default)
        XCTAssertEqual(try workflow("    retry: false").retry, RunRetryPolicy(onEvents: []))
        XCTAssertEqual(try workflow("    retry:\n      duration: 30m").retry, RunRetryPolicy(onEvents: RunRetryPolicy.default.onEvents, duration: 1800))
    }

    func testUnknownEventsKeysAndDurationsAreRefusedWithTheirLine() {
        let cases: [(String, String)] = [
            ("    retry:\n      on_events: [preemption]", "w.yaml:5: 'retry: on_events' takes interruption, no-capacity and error, not 'preemption'"),
            ("    retry:\n      duration: soon", "w.yaml:5: 'retry: duration' must be a duration such as 90s, 30m, 1h or 2d"),
            ("    retry:\n      limit: 3", "w.yaml:5: 'retry: limit' is not supported by this dstack; it takes on_events and duration"),
            ("    retry: [error]", "w.yaml:4: 'retry' of 'train' must be a mapping with 'on_events' and 'duration', or true/false"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try workflow(text), text) { XCTAssertEqual(String(describing: $0), message) }
        }
    }

    func testAPolicyAllowsOnlyItsEventsAndOnlyWithinItsDuration() {
        let submitted = Date(timeIntervalSince1970: 1_000)
        let policy = RunRetryPolicy(onEvents: [.interruption], duration: 60)
        XCTAssertTrue(policy.allows(.interruption, submittedAt: submitted, now: submitted.addingTimeInterval(59)))
        XCTAssertFalse(policy.allows(.interruption, submittedAt: submitted, now: submitted.addingTimeInterval(61)))
        XCTAssertFalse(policy.allows(.error, submittedAt: submitted, now: submitted))
        XCTAssertEqual(RunRetryPolicy(storedText: policy.storedText), policy, "what state keeps reads back the same")
    }
}
