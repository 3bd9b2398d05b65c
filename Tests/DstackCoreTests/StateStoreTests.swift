import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The state's specification, on SQLite and on Postgres (`StateTestCase`); the few
/// tests of state.db as a file are SQLite's alone.
final class StateStoreTests: StateTestCase {
    var temp: TempHome!

    override func setUp() { temp = TempHome() }
    override func tearDown() { temp.cleanUp() }

    func testANewStateIsEnabledWithNoRulesAndAnInstallationID() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.read { tx in
                XCTAssertTrue(try tx.isEnabled())
                XCTAssertEqual(try tx.rules(), [])
                XCTAssertEqual(try tx.installationID().count, 16)
            }
        }
    }

    func testReasonsSetInBulkChangeOnlyRunsStillWaitingAcrossManyStatements() throws {
        try onEachBackend { location in
            let state = try location.open()
            let ids = (0..<1_203).map { String(format: "run-%04d", $0) }
            try state.write { tx in
                for id in ids { try tx.submitRun(id: id, workflow: nil, commands: ["true"], requirements: ResourceRequirements()) }
                try tx.setRunStatus(ids[700], .running)
            }
            try state.write { try $0.setRunReasons(ids, status: .pending, reason: "waiting for m5.large") }
            try state.read { tx in
                let runs = Dictionary(try tx.runs().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                XCTAssertEqual(runs.values.filter { $0.status == .pending && $0.reason == "waiting for m5.large" }.count, 1_202,
                               "every waiting run, in every chunk of the update")
                XCTAssertEqual(runs[ids[700]]?.status, .running, "a run that started keeps its status")
                XCTAssertNil(runs[ids[700]]?.reason)
            }
        }
    }

    func testTheInstallationIDIsStableAcrossOpens() throws {
        try onEachBackend { location in
            let first = try location.open().read { try $0.installationID() }
            let second = try location.open().read { try $0.installationID() }
            XCTAssertEqual(first, second)
        }
    }

    func testRulesAreSetReplacedAndRemovedWithMaxZero() throws {
        try onEachBackend { location in
            let state = try location.open()
            XCTAssertEqual(try state.write { try $0.setRule("m5.xlarge", max: 2) }, 0)
            XCTAssertEqual(try state.write { try $0.setRule("c5.large", max: 1) }, 0)
            XCTAssertEqual(try state.write { try $0.setRule("m5.xlarge", max: 3) }, 2)
            XCTAssertEqual(try state.read { try $0.rules() },
                           [AutoscaleRule(instanceType: "c5.large", max: 1), AutoscaleRule(instanceType: "m5.xlarge", max: 3)])
            XCTAssertEqual(try state.write { try $0.setRule("m5.xlarge", max: 0) }, 3)
            XCTAssertEqual(try state.read { try $0.rules() }, [AutoscaleRule(instanceType: "c5.large", max: 1)])
            XCTAssertEqual(try state.write { try $0.removeAllRules() }, 1)
            XCTAssertEqual(try state.read { try $0.rules() }, [])
        }
    }

    func testEnabledFlagReportsWhetherItChanged() throws {
        try onEachBackend { location in
            let state = try location.open()
            XCTAssertTrue(try state.write { try $0.setEnabled(false) })
            XCTAssertFalse(try state.write { try $0.setEnabled(false) })
            XCTAssertFalse(try state.read { try $0.isEnabled() })
            XCTAssertTrue(try state.write { try $0.setEnabled(true) })
        }
    }

    func testAFailedTransactionChangesNothing() throws {
        try onEachBackend { location in
            struct Boom: Error {}
            let state = try location.open()
            XCTAssertThrowsError(try state.write { tx in
                try tx.setRule("m5.xlarge", max: 5)
                throw Boom()
            })
            XCTAssertEqual(try state.read { try $0.rules() }, [])
        }
    }

    func testAReadGoesOnWhileAWriteIsOpenAndSeesOnlyWhatWasCommitted() throws {
        try onEachBackend { location in
            let state = try location.open()
            _ = try state.write { try $0.setRule("c5.large", max: 1) }
            let seen = LockedRules()
            let done = DispatchSemaphore(value: 0)
            try state.write { tx in
                try tx.setRule("m5.xlarge", max: 2)
                // Reads have their own connection: this one must not wait for the write to end.
                Thread {
                    seen.rules = try? state.read { try $0.rules() }
                    done.signal()
                }.start()
                XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "the read waited for the open write")
            }
            XCTAssertEqual(seen.rules, [AutoscaleRule(instanceType: "c5.large", max: 1)])
            XCTAssertEqual(try state.read { try $0.rules() },
                           [AutoscaleRule(instanceType: "c5.large", max: 1), AutoscaleRule(instanceType: "m5.xlarge", max: 2)])
        }
    }

    func testAWriteInsideAReadIsRefusedAndChangesNothing() throws {
        try onEachBackend { location in
            let state = try location.open()
            XCTAssertThrowsError(try state.read { try $0.setRule("m5.xlarge", max: 1) })
            XCTAssertEqual(try state.read { try $0.rules() }, [])
        }
    }

    func testTheFileIsInWALMode() throws {
        _ = try StateStore(home: temp.home)
        XCTAssertEqual(try sqlite3(temp.home.stateFile.path, "PRAGMA journal_mode"), "wal")
    }

    func testACorruptDatabaseIsReportedAndNeverOverwritten() throws {
        try temp.home.prepare()
        let garbage = Data(repeating: 0x5a, count: 8192)
        try garbage.write(to: temp.home.stateFile)
        XCTAssertThrowsError(try StateStore(home: temp.home)) { error in
            guard case StateError.corrupt(let path, _)? = error as? StateError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, temp.home.stateFile.path)
        }
        XCTAssertEqual(try Data(contentsOf: temp.home.stateFile), garbage)
    }

    func testADatabaseFromANewerDstackIsRefused() throws {
        try onEachBackend { location in
            _ = try location.open()
            try location.sql(location.backend == .sqlite ? "PRAGMA user_version = 999" : "UPDATE dstack_schema SET version = 999")
            XCTAssertThrowsError(try location.open()) { error in
                guard case StateError.tooNew(_, 999, _)? = error as? StateError else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".contains("newer than this dstack understands"), "\(error)")
            }
        }
    }

    func testConcurrentWritersNeverLoseAnUpdate() throws {
        try onEachBackend { location in
            let state = try location.open()
            let other = try location.open() // a second server on the same state
            DispatchQueue.concurrentPerform(iterations: 20) { index in
                let store = index.isMultiple(of: 2) ? state : other
                do {
                    _ = try store.write { tx in
                        let max = try tx.rule(for: "m5.xlarge")?.max ?? 0
                        return try tx.setRule("m5.xlarge", max: max + 1)
                    }
                } catch {
                    XCTFail("a write failed: \(error)")
                }
            }
            XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 20)
        }
    }

    func testServersOpeningOneNewDatabaseTogetherMigrateItOnce() throws {
        let location = try makeLocation(.postgres)
        defer { location.temp.cleanUp() }
        let ids = LockedStrings()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                ids.append(try location.open().read { try $0.installationID() })
            } catch {
                ids.append("error: \(error)")
            }
        }
        XCTAssertEqual(ids.values.count, 4)
        XCTAssertEqual(Set(ids.values).count, 1, "\(ids.values)")
        XCTAssertEqual(try location.sql("SELECT version FROM dstack_schema"), "\(StateStore.schemaVersion)")
        XCTAssertEqual(try location.sql("SELECT count(*) FROM meta WHERE key = 'installation_id'"), "1")
    }

    func testARunRowWithABadValueIsAnErrorNamingItNeverADefault() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { try $0.submitRun(id: "run-1", workflow: nil, commands: ["true"], requirements: .init(cpus: 2)) }
            XCTAssertEqual(try state.read { try $0.run("run-1") }?.requirements.cpus, 2)
            _ = try location.sql(#"UPDATE runs SET requirements = '{"cpu": "four"}' WHERE id = 'run-1'"#)
            XCTAssertThrowsError(try state.read { try $0.run("run-1") }) { error in
                XCTAssertTrue("\(error)".contains("runs row (run-1) whose requirements"), "\(error)")
                XCTAssertTrue("\(error)".contains("cpu"), "\(error)")
            }
            _ = try location.sql(#"UPDATE runs SET requirements = '{}', status = 'sleeping' WHERE id = 'run-1'"#)
            XCTAssertThrowsError(try state.read { try $0.runs() }) { error in
                XCTAssertTrue("\(error)".contains("status"), "\(error)")
            }
        }
    }

    func testTheLaunchJournalRecordsIntentThenOutcome() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { try $0.journalBatch(token: "t1", vendor: "aws", instanceType: "m5.xlarge", count: 2, registrationHash: "h") }
            XCTAssertEqual(try state.read { try $0.launches(vendor: "aws") }.map(\.status), [.intent])
            try state.write { tx in
                try tx.markLaunchSent(token: "t1", spotRequestIDs: ["sir-1", "sir-2"])
                try tx.recordInstances([ManagedInstance(id: "i-1", instanceType: "m5.xlarge", state: .running, spotRequestID: "sir-1")],
                                       vendor: "aws", launchToken: "t1")
            }
            XCTAssertEqual(try state.read { try $0.knownResources(vendor: "aws") },
                           KnownResources(spotRequestIDs: ["sir-1", "sir-2"], instanceIDs: ["i-1"]))
            try state.write { try $0.forget(TerminationTarget(instanceIDs: ["i-1"], spotRequestIDs: ["sir-1"]), vendor: "aws") }
            XCTAssertEqual(try state.read { try $0.knownResources(vendor: "aws") }, KnownResources(spotRequestIDs: ["sir-2"]))
            XCTAssertEqual(try state.read { try $0.knownResources(vendor: "local") }, KnownResources())
        }
    }

    /// Asks the sqlite3 shell, a reader independent of our own code.
    private func sqlite3(_ path: String, _ sql: String) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, sql]
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Strings gathered from several threads; `lock` guards `stored`.
private final class LockedStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ value: String) { lock.withLock { stored.append(value) } }
    var values: [String] { lock.withLock { stored } }
}

/// The rules a background read saw; `lock` guards `stored`.
private final class LockedRules: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [AutoscaleRule]?
    var rules: [AutoscaleRule]? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
