@testable import DstackAPI
import DstackCore
import XCTest

/// What an attached `dstack run` prints while a run waits: on a terminal one line
/// rewritten in place, elsewhere one line per change.
final class RunProgressTests: XCTestCase {
    private let submitted = Date(timeIntervalSince1970: 1_000_000)

    private func run(_ status: RunStatus, reason: String? = nil, stage: String? = nil) -> RunInfo {
        RunInfo(id: "run-1", workflow: nil, user: nil, status: status.rawValue, reason: reason, stage: stage, instanceId: nil,
                attempt: 0, exitCode: nil, submittedAt: submitted, finishedAt: nil)
    }

    private func at(_ seconds: TimeInterval) -> Date { submitted.addingTimeInterval(seconds) }

    func testTheLineSaysStatusElapsedTimeReasonAndStage() {
        let waiting = run(.provisioning, reason: "waiting for an m5.xlarge instance to start",
                          stage: "spot request open (pending-evaluation)")
        XCTAssertEqual(RunProgress.text(waiting, now: at(65)), """
            [dstack] run-1 provisioning 1m5s: waiting for an m5.xlarge instance to start; spot request open (pending-evaluation)
            """)
        XCTAssertEqual(RunProgress.text(run(.running, stage: "running"), now: at(3)), "[dstack] run-1 running 3s",
                       "a stage that only repeats the status is not shown")
    }

    func testPlainOutputHasOneLinePerChangeAndNoCarriageReturns() {
        var progress = RunProgress(mode: .plain)
        let open = run(.provisioning, reason: "waiting", stage: "spot request open")
        XCTAssertEqual(progress.update(open, now: at(1)), "[dstack] run-1 provisioning 1s: waiting; spot request open\n")
        XCTAssertEqual(progress.update(open, now: at(2)), "", "time passing alone is no change")
        XCTAssertEqual(progress.update(run(.provisioning, reason: "waiting", stage: "booting"), now: at(3)),
                       "[dstack] run-1 provisioning 3s: waiting; booting\n")
        XCTAssertEqual(progress.beforeRunOutput(), "")
    }

    func testATerminalGetsOneLineRewrittenAsTimeTicksThenEndedBeforeOutput() {
        var progress = RunProgress(mode: .terminal)
        let open = run(.provisioning, reason: "waiting", stage: "booting")
        XCTAssertEqual(progress.update(open, now: at(1)), "\r\u{1B}[K[dstack] run-1 provisioning 1s: waiting; booting")
        XCTAssertEqual(progress.update(open, now: at(1.2)), "", "nothing to redraw within the same second")
        XCTAssertEqual(progress.update(open, now: at(2)), "\r\u{1B}[K[dstack] run-1 provisioning 2s: waiting; booting")
        XCTAssertEqual(progress.beforeRunOutput(), "\n", "the status line ends before the run's output")
        XCTAssertEqual(progress.update(run(.running, stage: "running"), now: at(3)), "[dstack] run-1 running 3s\n",
                       "once output flows, status changes are plain lines")
    }

    func testATerminalLineIsDrawnAgainAfterOneOfDstacksOwnLines() {
        var progress = RunProgress(mode: .terminal)
        let booting = run(.provisioning, stage: "booting")
        _ = progress.update(booting, now: at(1))
        XCTAssertEqual(progress.beforeSystemLine(), "\n")
        XCTAssertEqual(progress.update(booting, now: at(1)), "\r\u{1B}[K[dstack] run-1 provisioning 1s: booting",
                       "redrawn below the line, and still rewritten in place")
    }

    func testATerminalLineEndsWhenTheRunEnds() {
        var progress = RunProgress(mode: .terminal)
        _ = progress.update(run(.provisioning, stage: "booting"), now: at(1))
        XCTAssertEqual(progress.update(run(.failed, reason: "no runner registered", stage: "booting"), now: at(9)),
                       "\r\u{1B}[K[dstack] run-1 failed 9s: no runner registered\n")
    }
}
