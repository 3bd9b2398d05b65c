import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A spot interruption notice, as the local provider's runners read it from a stub
/// metadata service: the run goes back to the queue at once, finishes on another
/// instance, and the interrupted pool is cooled.
final class SpotInterruptionTests: CLITestCase {
    func testAnInterruptionNoticeMidRunRequeuesTheRunWhichFinishesOnAnotherInstance() throws {
        let metadata = try StubMetadataService()
        defer { metadata.stop() }
        try ok("local", "configure", "--metadata-url", metadata.url)
        // A max of 1: the interrupted instance no longer counts, so its replacement starts at once.
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "sh", "-c", "echo attempt-output; sleep 6", server: server)
        try eventually("the first attempt to start") { try ok("logs", id).contains("attempt-output") }
        let first = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)

        let terminateAt = Date().addingTimeInterval(120)
        let announced = Date()
        metadata.announceInterruption(instance: first, at: terminateAt)
        try eventually("the run to go back to the queue") { try run(id)?["interruptions"]?.intValue == 1 }
        try eventually("the run to finish on another instance") { try status(id) == "done" }
        XCTAssertNotEqual(try run(id)?["instance_id"]?.stringValue, first)
        XCTAssertEqual(try run(id)?["attempt"]?.intValue, 2)
        XCTAssertTrue(try liveInstances().contains { $0["id"]?.stringValue == first },
                      "the interrupted instance is left for the cloud to take, and did not block its replacement")

        let signal = "spot interruption notice, terminate at \(Self.clock(terminateAt))"
        XCTAssertEqual(try run(id)?["interrupted_by"]?.stringValue, signal)
        let logs = try dstack("logs", id)
        XCTAssertTrue(logs.stderr.contains("attempt 1 interrupted: \(signal) (instance \(first)); it will be retried"), logs.stderr)
        XCTAssertEqual(logs.stdout.components(separatedBy: "attempt-output").count - 1, 2, "both attempts stay in the log")
        XCTAssertTrue(try ok("ps", "--all").contains("interrupted once, last by \(signal)"))

        // The server's own clock and its cooldowns, which no API shows: read from its
        // state, on whichever backend it runs (make test reruns this on Postgres).
        let state = try openState()
        let requeuedAt = try XCTUnwrap(try state.read { try $0.logs(runID: id) }.first { $0.text.contains("interrupted: spot") }?.at)
        XCTAssertLessThan(requeuedAt.timeIntervalSince(announced), 10, "from the notice to the requeue, by the server's own clock")
        let cooled = try state.read { try $0.offeringCooldowns() }
        XCTAssertEqual(cooled.map(\.instanceType), ["local"], "the interrupted type (and its zone, where it has one) is cooled")
        XCTAssertFalse(try XCTUnwrap(cooled.first).hard, "an interruption only ranks its pool last; it does not block it")
        XCTAssertTrue(server.output.contains("instance \(first) (local): \(signal); run \(id) requeued"), server.output)
    }

    static func clock(_ date: Date) -> String {
        String(ServerLog.timestamp(date).split(separator: "T").last ?? "")
    }
}
