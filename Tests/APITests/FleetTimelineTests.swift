@testable import DstackServer
import DstackCore
import Foundation
import XCTest

/// The timeline records what a pass's report says it did, one event per action, naming
/// the launch, instance or run it is about.
final class FleetTimelineTests: XCTestCase {
    func testEachActionOfAPassBecomesOneEvent() {
        var report = Reconciler.Report()
        report.launched = ["m5.large": 2]
        report.launchedFor = ["launch-1": ["run-a", "run-b"]]
        report.launchedTypes = ["launch-1": "m5.large"]
        report.terminated = ["i-1"]
        report.requeued = ["i-1": "run-c"]
        report.swept = ["i-9"]
        report.retried = ["run-c"]
        report.gaveUp = ["launch-0": "its runners did not register within 15m"]
        report.failedRuns = ["run-d": "no runner registered"]
        report.interrupted = ["i-2": "spot request status instance-terminated-no-capacity"]
        report.heldRequests = ["launch-2": "m5.large: capacity-not-available in us-east-1a, trying us-east-1b"]
        let at = Date(timeIntervalSince1970: 1_000)

        let events = FleetTimeline.events(from: report, at: at)

        XCTAssertEqual(events.map { "\($0.kind) \($0.subject): \($0.detail)" }, [
            "launch launch-1: requested 2 m5.large for run-a, run-b",
            "termination i-1: terminated; its run run-c went back to the queue",
            "interruption i-2: spot request status instance-terminated-no-capacity",
            "cloud_failure launch-2: m5.large: capacity-not-available in us-east-1a, trying us-east-1b",
            "sweep i-9: listed as ours but unknown to state: terminated",
            "requeue run-c: back in the queue: it lost its instance",
            "gave_up launch-0: its runners did not register within 15m",
            "run_failed run-d: no runner registered",
        ])
        XCTAssertTrue(events.allSatisfy { $0.at == at })
    }

    func testAQuietPassRecordsNothing() {
        XCTAssertEqual(FleetTimeline.events(from: Reconciler.Report(), at: Date()), [])
    }

    func testALaunchResentAfterARestartIsRecordedByType() {
        var report = Reconciler.Report()
        report.launched = ["local": 1]
        XCTAssertEqual(FleetTimeline.events(from: report, at: Date()).map(\.detail), ["requested 1 local"])
    }

    func testEventsNameTheRunsTheyConcernAndHaveADetailWithoutThem() {
        var report = Reconciler.Report()
        report.launchedFor = ["launch-1": ["run-a", "run-b"]]
        report.launchedTypes = ["launch-1": "m5.large"]
        report.terminated = ["i-1", "i-2"]
        report.requeued = ["i-1": "run-c"]
        report.retried = ["run-c"]

        let events = FleetTimeline.events(from: report, at: Date())

        XCTAssertEqual(events.map(\.runs), [["run-a", "run-b"], ["run-c"], [], ["run-c"]])
        XCTAssertEqual(events.map(\.sharedDetail), ["requested 2 m5.large", "terminated", nil, nil])
    }

    func testAUserSeesTheirOwnRunsFleetEventsAndNoOtherUsersRun() {
        let launch = FleetEventRecord(at: Date(), kind: "launch", subject: "launch-1", detail: "requested 2 m5.large for run-a, run-b",
                                      runs: ["run-a", "run-b"], sharedDetail: "requested 2 m5.large")
        XCTAssertEqual(launch.seen(ownedRuns: ["run-a", "run-b"])?.detail, "requested 2 m5.large for run-a, run-b")
        XCTAssertEqual(launch.seen(ownedRuns: ["run-a"])?.detail, "requested 2 m5.large", "one run is someone else's")
        XCTAssertEqual(launch.seen(ownedRuns: ["run-a"])?.runs, ["run-a"])
        XCTAssertEqual(launch.seen(ownedRuns: [])?.detail, "requested 2 m5.large")

        let requeue = FleetEventRecord(at: Date(), kind: "requeue", subject: "run-c", detail: "back in the queue", runs: ["run-c"])
        XCTAssertNil(requeue.seen(ownedRuns: []), "an event about another user's run alone is not shown")
        XCTAssertEqual(requeue.seen(ownedRuns: ["run-c"])?.detail, "back in the queue")

        let sweep = FleetEventRecord(at: Date(), kind: "sweep", subject: "i-9", detail: "terminated")
        XCTAssertEqual(sweep.seen(ownedRuns: [])?.detail, "terminated", "fleet events name no run")
    }
}
