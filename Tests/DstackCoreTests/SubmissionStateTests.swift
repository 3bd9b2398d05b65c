import DstackCore
import Foundation
import XCTest

/// What a run submission and a steady reconcile pass ask of the state, on both backends:
/// a run stored and read back in one statement, the fit check's read in one, changes
/// made of new rows that do not queue on Postgres's write lock, a pass that reads before
/// it writes, and tokens believed for a moment.
final class SubmissionStateTests: StateTestCase {
    func testASubmittedRunIsStoredAndReadBackInOneStatement() throws {
        try onEachBackend { location in
            let state = try location.open()
            let retry = RunRetryPolicy(onEvents: [.interruption, .error], duration: 600)
            let stored = try state.statement(writing: true) { tx in
                try tx.insertRun(id: "run-0000000a", workflow: "train", commands: ["make", "test"],
                                 requirements: ResourceRequirements(cpus: 2), environment: ["B": "2", "A": "1"],
                                 submittedBy: "carol", retryPolicy: retry)
            }
            let record = try XCTUnwrap(stored)
            XCTAssertEqual(record.id, "run-0000000a")
            XCTAssertEqual(record.status, .submitted)
            XCTAssertEqual(record.submittedBy, "carol")
            XCTAssertEqual(record.retryPolicy, retry, "the policy is stored with the run, not by a second statement")
            XCTAssertEqual(try state.read { try $0.run("run-0000000a") }, record, "what came back is what is stored")
        }
    }

    func testATakenRunIDStoresNothingAndChangesTheRunThatHasIt() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { try $0.submitRun(id: "run-0000000b", workflow: nil, commands: ["first"], requirements: ResourceRequirements()) }
            let again = try state.statement(writing: true) { tx in
                try tx.insertRun(id: "run-0000000b", workflow: nil, commands: ["second"], requirements: ResourceRequirements(),
                                 submittedBy: "mallory")
            }
            XCTAssertNil(again, "a taken ID is reported, so that the caller draws another")
            let kept = try XCTUnwrap(try state.read { try $0.run("run-0000000b") })
            XCTAssertEqual(kept.commands, ["first"])
            XCTAssertNil(kept.submittedBy)
        }
    }

    func testTheRulesAndTheEnabledFlagAreReadInOneStatement() throws {
        try onEachBackend { location in
            let state = try location.open()
            let fresh = try state.statement { try $0.rulesAndEnabled() }
            XCTAssertEqual(fresh.rules, [])
            XCTAssertTrue(fresh.enabled)
            try state.write { tx in
                try tx.setRule("m5.xlarge", max: 2)
                try tx.setRule("c5.large", max: 1)
                try tx.setEnabled(false)
            }
            let read = try state.statement { try $0.rulesAndEnabled() }
            XCTAssertEqual(read.rules, try state.read { try $0.rules() })
            XCTAssertEqual(read.rules.map(\.instanceType), ["c5.large", "m5.xlarge"])
            XCTAssertFalse(read.enabled)
        }
    }

    /// On Postgres a run is stored beside a write that holds the write lock (the leader's
    /// pass, another replica's change) instead of queueing behind it; SQLite has one
    /// writer, so there the same calls simply wait their turn.
    func testOnPostgresARunIsStoredWhileAnotherWriteHoldsTheWriteLock() throws {
        let location = try makeLocation(.postgres)
        defer { location.temp.cleanUp() }
        let state = try location.open()
        let other = try location.open() // another replica on the same database
        let stored = LockedRunIDs()
        let done = DispatchSemaphore(value: 0)
        try other.write { tx in
            try tx.setRule("m5.xlarge", max: 3)
            Thread {
                do {
                    let alone = try state.statement(writing: true) { tx in
                        try tx.insertRun(id: "run-000000c1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
                    }
                    let withArtifacts = try state.insert { tx in
                        let record = try tx.insertRun(id: "run-000000c2", workflow: nil, commands: ["true"],
                                                      requirements: ResourceRequirements())
                        try tx.setRunArtifacts(runID: "run-000000c2", paths: ["out"], deps: [])
                        return record
                    }
                    stored.ids = [alone?.id, withArtifacts?.id].compactMap { $0 }
                } catch {
                    stored.ids = ["failed: \(error)"]
                }
                done.signal()
            }.start()
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "the submission waited for the write lock")
        }
        XCTAssertEqual(stored.ids, ["run-000000c1", "run-000000c2"])
        XCTAssertEqual(try state.read { try $0.runArtifacts("run-000000c2")?.paths }, ["out"])
        XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 3)
    }

    func testAnInsertThatFailsLeavesNoRunWithoutItsArtifacts() throws {
        try onEachBackend { location in
            let state = try location.open()
            struct Refused: Error {}
            XCTAssertThrowsError(try state.insert { tx in
                _ = try tx.insertRun(id: "run-000000d1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
                try tx.setRunArtifacts(runID: "run-000000d1", paths: ["out"], deps: [])
                throw Refused()
            })
            XCTAssertNil(try state.read { try $0.run("run-000000d1") }, "the run and its declaration go together or not at all")
        }
    }

    func testInstanceLivesNeedRecordingOnlyWhenTheCloudsListDiffersFromThem() throws {
        try onEachBackend { location in
            let state = try location.open()
            let now = Date(timeIntervalSince1970: 1_795_000_000)
            let one = ManagedInstance(id: "i-1", instanceType: "m5.large", state: .running, launchTime: now)
            let two = ManagedInstance(id: "i-2", instanceType: "m5.large", state: .running, launchTime: now)
            func needs(_ listed: [ManagedInstance]) throws -> Bool {
                try state.read { try $0.instanceLivesNeedRecording(listed, vendor: "aws") }
            }
            XCTAssertFalse(try needs([]))
            XCTAssertTrue(try needs([one]), "a life to open")
            try state.write { try $0.recordInstanceLives([one, two], vendor: "aws", at: now) }
            XCTAssertFalse(try needs([one, two]), "the same list: nothing to write")
            XCTAssertFalse(try needs([one, two, ManagedInstance(id: "sir-1", instanceType: "m5.large", state: .pending,
                                                                  isUnfulfilledRequest: true)]),
                           "an unfulfilled request has no life")
            XCTAssertTrue(try needs([one]), "a life to end")
            var placed = one
            placed.availabilityZone = "us-east-1a"
            XCTAssertTrue(try needs([placed, two]), "a zone learned")
        }
    }

    /// A token that opened an account is believed for a second without asking state: a
    /// user removed through one server is refused there at once, and by another server
    /// sharing the state within that second.
    func testARemovedUsersTokenStopsWorkingAtOnceHereAndWithinASecondElsewhere() throws {
        try onEachBackend { location in
            let here = UserDirectory(state: try location.open(), home: location.temp.home)
            let elsewhere = UserDirectory(state: try location.open(), home: location.temp.home)
            let (_, token) = try here.add(name: "carol", role: "user")
            XCTAssertEqual(try here.user(token: token)?.name, "carol")
            XCTAssertEqual(try elsewhere.user(token: token)?.name, "carol")
            XCTAssertNil(try here.user(token: "dstk_" + String(repeating: "0", count: 64)))
            try here.remove(name: "carol")
            XCTAssertNil(try here.user(token: token), "refused at once by the server that removed it")
            let deadline = Date().addingTimeInterval(10)
            while try elsewhere.user(token: token) != nil {
                XCTAssertLessThan(Date(), deadline, "another server still believes a removed user's token")
                if Date() >= deadline { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }
}

private final class LockedRunIDs: @unchecked Sendable { // `lock` guards `stored`
    private let lock = NSLock()
    private var stored: [String] = []
    var ids: [String] {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
