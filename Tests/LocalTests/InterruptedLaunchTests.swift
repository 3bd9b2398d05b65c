@testable import DstackLocal
import DstackCore
import Foundation
import XCTest

/// A server killed (SIGKILL) in the middle of a local launch, at each step of it, and the
/// new leader's resend of that launch with the same idempotency token: what the first
/// launch started is found and completed, never doubled, and nothing of it is left where
/// `list` cannot see it (no sweep could ever remove that).
final class InterruptedLaunchTests: LocalProviderTestCase {
    private var store: InstanceStore { InstanceStore(home: home) }

    private func directories() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.root).sorted()
    }

    /// Killed just after making the instance's directory: no record yet (perhaps half a
    /// temporary file), so `list` cannot show it. The resend clears it and launches.
    func testKilledBeforeTheRecordLeavesNoDirectoryOnceTheLaunchIsResent() async throws {
        try store.prepare()
        let debris = store.directory(of: "local-0000dead")
        try FileManager.default.createDirectory(atPath: debris, withIntermediateDirectories: true)
        try "{\"id\":".write(toFile: debris + "/.instance.json.123.456.tmp", atomically: false, encoding: .utf8)
        let before = try await provider.list()
        XCTAssertEqual(before, [], "a directory without a record is invisible to list")

        let launched = try await request(token: "resent")
        XCTAssertEqual(launched.count, 1)
        XCTAssertEqual(try directories(), launched.map(\.id), "the dead launch's directory is gone; only the resent one is there")
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id), launched.map(\.id))
    }

    /// Killed after spawning, before writing the pid: the record says "no process", yet
    /// the runner runs. The resend returns that same instance, running, with its pid
    /// written down, so terminate stops it.
    func testKilledBeforeThePidIsWrittenTheResendFindsTheProcess() async throws {
        let first = try await request(token: "resent")[0]
        var record = try XCTUnwrap(store.record(first.id))
        let pid = try XCTUnwrap(record.pid)
        record.pid = nil
        record.pidStartTicks = nil
        try store.write(record)

        let again = try await request(token: "resent")
        XCTAssertEqual(again.map(\.id), [first.id], "the resend returns the first launch's instance, not a second one")
        XCTAssertEqual(again.first?.state, .running)
        XCTAssertEqual(store.record(first.id)?.pid, pid, "the pid is written down")
        XCTAssertEqual(try directories(), [first.id])

        try await provider.terminate(TerminationTarget(instanceIDs: [first.id]))
        XCTAssertTrue(isGone(pid), "terminate stopped the runner")
        XCTAssertEqual(try directories(), [])
    }

    /// The same record with no resend (its launch was already given up): list still
    /// shows it running while its process lives, and terminate stops the process
    /// instead of deleting the directory from under a runner that goes on.
    func testARecordWithoutItsPidIsListedRunningAndTerminateStopsItsProcess() async throws {
        let first = try await request()[0]
        var record = try XCTUnwrap(store.record(first.id))
        let pid = try XCTUnwrap(record.pid)
        record.pid = nil
        record.pidStartTicks = nil
        try store.write(record)

        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.state), [.running])
        try await provider.terminate(TerminationTarget(instanceIDs: [first.id]))
        XCTAssertTrue(isGone(pid), "terminate stopped the runner")
        XCTAssertEqual(try directories(), [])
    }

    /// Killed after writing the record, before spawning: nothing runs for it. The resend
    /// launches in its place (one instance, running), and the dead record is gone.
    func testKilledBeforeSpawningTheResendLaunchesInItsPlace() async throws {
        try store.prepare()
        let dead = InstanceRecord(id: "local-0000beef", instanceType: "local", launchTime: Date(),
                                  idempotencyToken: "resent", installationID: "local-tests")
        try FileManager.default.createDirectory(atPath: store.directory(of: dead.id), withIntermediateDirectories: true)
        try store.write(dead)

        let launched = try await request(token: "resent")
        XCTAssertEqual(launched.count, 1)
        XCTAssertNotEqual(launched.first?.id, dead.id)
        XCTAssertEqual(launched.first?.state, .running)
        XCTAssertEqual(try directories(), launched.map(\.id))
    }

    /// Killed between the instances of a launch of two: the resend starts the second
    /// and returns both; a third resend starts nothing.
    func testKilledBetweenTheInstancesOfALaunchTheResendStartsOnlyTheRest() async throws {
        let first = try await request(count: 1, token: "pair")
        let both = try await request(count: 2, token: "pair")
        XCTAssertEqual(both.count, 2)
        XCTAssertTrue(both.map(\.id).contains(first[0].id))
        let again = try await request(count: 2, token: "pair")
        XCTAssertEqual(Set(again.map(\.id)), Set(both.map(\.id)))
        XCTAssertEqual(try directories(), both.map(\.id).sorted())
    }

    /// A removal killed halfway leaves its files outside `instances/`, and the next
    /// launch clears them: a look at `instances/` never sees half an instance.
    func testTerminateTakesTheWholeDirectoryAwayAtOnce() async throws {
        let launched = try await request()[0]
        try await provider.terminate(TerminationTarget(instanceIDs: [launched.id]))
        XCTAssertEqual(try directories(), [])
        let removing = home.appendingPathComponent("local/removing").path
        try FileManager.default.createDirectory(atPath: removing + "/local-00000bad.1/work", withIntermediateDirectories: true)
        _ = try await request()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: removing), [])
    }
}
