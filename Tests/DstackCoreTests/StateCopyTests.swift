import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `migrate-state`'s copy: every table, row for row, into an empty Postgres; never into
/// one that holds anything.
final class StateCopyTests: StateTestCase {
    func testACopyCarriesEveryTableAndReadsTheSame() throws {
        let source = try makeLocation(.sqlite)
        let target = try makeLocation(.postgres)
        defer { source.temp.cleanUp(); target.temp.cleanUp() }
        let from = try source.open()
        try from.write { tx in
            try tx.setRule("m5.xlarge", max: 3)
            try tx.setEnabled(false)
            _ = try tx.addUser(name: "ana", role: "user", tokenHash: "hash-ana")
            try tx.journalBatch(token: "t1", vendor: "aws", instanceType: "m5.xlarge", count: 1, registrationHash: "rh", diskGB: 50)
            try tx.recordLaunchPurpose(token: "t1", runIDs: ["run-1"], serverURL: "https://dstack.example")
            try tx.registerInstance(id: "i-1", vendor: "aws", instanceType: "m5.xlarge", spotRequestID: "sir-1", batchToken: "t1",
                                    tokenHash: "th")
            try tx.submitRun(id: "run-1", workflow: "w", commands: ["echo hi"], requirements: .init(cpus: 2),
                             environment: ["A": "1"], submittedBy: "ana")
            _ = try tx.startAttempt("run-1", on: "i-1")
            try tx.appendLog(runID: "run-1", attempt: 1, stream: .stdout, text: "hi\n")
            try tx.addInstanceRequest(id: "req-1", instanceType: "m5.xlarge", count: 1)
        }
        let to = try target.open()
        let copied = try StateCopy.copy(from: from, to: to)
        XCTAssertEqual(copied["runs"], 1)
        XCTAssertEqual(copied["run_logs"], 1)
        XCTAssertEqual(copied["users"], 1)
        XCTAssertEqual(copied["launches"], 1)

        func snapshot(_ state: StateStore) throws -> String {
            try state.read { tx in
                "\(try tx.rules()) \(try tx.isEnabled()) \(try tx.installationID()) \(try tx.users()) "
                    + "\(try tx.launches(vendor: "aws")) \(try tx.fleet(vendor: "aws")) \(try tx.runs()) "
                    + "\(try tx.logs(runID: "run-1")) \(try tx.instanceRequest("req-1").map { "\($0)" } ?? "-") "
                    + "\(try tx.runsLaunchedFor(tokens: ["t1"]))"
            }
        }
        XCTAssertEqual(try snapshot(to), try snapshot(from))
    }

    func testACopyIntoADatabaseThatHoldsAnythingIsRefusedAndChangesNothing() throws {
        let source = try makeLocation(.sqlite)
        let target = try makeLocation(.postgres)
        defer { source.temp.cleanUp(); target.temp.cleanUp() }
        let from = try source.open()
        _ = try from.write { try $0.setRule("m5.xlarge", max: 3) }
        let to = try target.open()
        _ = try to.write { try $0.setRule("c5.large", max: 1) }
        let idBefore = try to.read { try $0.installationID() }
        XCTAssertThrowsError(try StateCopy.copy(from: from, to: to)) { error in
            XCTAssertTrue("\(error)".contains("is not empty (its rules table has rows)"), "\(error)")
        }
        XCTAssertEqual(try to.read { try $0.rules() }, [AutoscaleRule(instanceType: "c5.large", max: 1)])
        XCTAssertEqual(try to.read { try $0.installationID() }, idBefore)
    }
}
