import DstackCore
import Foundation
import XCTest

/// What the state keeps of artifacts (migration 9) and what users are told of them.
final class ArtifactStateTests: XCTestCase {
    private var temp: TempHome!
    private var state: StateStore!

    override func setUpWithError() throws {
        temp = TempHome()
        state = try StateStore(home: temp.home, databaseURL: try TestStateBackend.databaseURL())
    }

    override func tearDown() {
        temp.cleanUp()
        super.tearDown()
    }

    private func submit(_ id: String, workflow: String? = nil, paths: [String], deps: [String] = []) throws {
        try state.write { tx in
            try tx.submitRun(id: id, workflow: workflow, commands: ["true"], requirements: ResourceRequirements())
            try tx.setRunArtifacts(runID: id, paths: paths, deps: deps)
        }
    }

    func testANewAttemptStartsFromAnEmptyManifestAndTheManifestIsWhatCounts() throws {
        try submit("run-a", paths: ["out"])
        try state.write { tx in
            XCTAssertEqual(try tx.beginArtifactUpload(runID: "run-a", attempt: 1, location: "server"), "server")
            try tx.recordArtifactManifest(runID: "run-a", complete: true, reason: nil,
                                          files: [ArtifactFileRecord(path: "out/a", size: 3, sha256: String(repeating: "a", count: 64))])
        }
        XCTAssertEqual(try state.read { try $0.runArtifacts("run-a")?.state }, .complete)
        XCTAssertEqual(try state.read { try $0.runArtifacts(["run-a"])["run-a"]?.1 }, ArtifactCounts(count: 1, size: 3))
        try state.write { tx in
            XCTAssertEqual(try tx.beginArtifactUpload(runID: "run-a", attempt: 2, location: "s3://bucket"), "s3://bucket")
            // Asked again by the same attempt: the place stays where the upload began.
            XCTAssertEqual(try tx.beginArtifactUpload(runID: "run-a", attempt: 2, location: "server"), "s3://bucket")
        }
        XCTAssertEqual(try state.read { try $0.artifactFiles("run-a") }, [])
        XCTAssertEqual(try state.read { try $0.runArtifacts("run-a")?.state }, .uploading)
    }

    func testARunWithNeitherArtifactsNorDepsStoresNothing() throws {
        try submit("run-b", paths: [])
        XCTAssertNil(try state.read { try $0.runArtifacts("run-b") })
        try submit("run-c", paths: [], deps: ["run-a"])
        XCTAssertEqual(try state.read { try $0.runArtifacts("run-c")?.deps }, ["run-a"])
    }

    func testWhatUsersAreToldOfArtifactsThatAreNotComplete() {
        let record = RunArtifactsRecord(runID: "r", paths: ["out"], deps: [], attempt: nil, state: nil, reason: nil, location: nil)
        XCTAssertEqual(ArtifactStatus.describe(record, runStatus: .running).state, "pending")
        XCTAssertEqual(ArtifactStatus.describe(record, runStatus: .stopped).reason, "the run was stopped, and a stopped run uploads nothing")
        XCTAssertEqual(ArtifactStatus.describe(record, runStatus: .interrupted).state, "incomplete")
        var uploading = record
        uploading.state = .uploading
        XCTAssertEqual(ArtifactStatus.describe(uploading, runStatus: .running).state, "uploading")
        XCTAssertEqual(ArtifactStatus.describe(uploading, runStatus: .failed).reason,
                       "the upload did not finish: the runner stopped before it wrote the manifest")
        var incomplete = record
        incomplete.state = .incomplete
        incomplete.reason = "1 of 2 files failed to upload"
        XCTAssertEqual(ArtifactStatus.describe(incomplete, runStatus: .done).state, "incomplete")
        XCTAssertEqual(ArtifactStatus.describe(incomplete, runStatus: .done).reason, "1 of 2 files failed to upload")
    }

    func testOnlyUploadsOfRunsNoLongerRunningThatAttemptAreOrphanedAndForgettingOneKeepsANewerOne() throws {
        func upload(_ run: String, attempt: Int, id: String) -> ArtifactUploadRecord {
            ArtifactUploadRecord(runID: run, path: "big.bin", attempt: attempt, uploadID: id, size: 100 << 20, sha256: "",
                                 location: "s3://bucket")
        }
        for id in ["run-up", "run-done", "run-moved", "run-requeued"] { try submit(id, paths: ["big.bin"]) }
        try state.write { tx in
            for id in ["run-up", "run-done", "run-moved", "run-requeued"] { _ = try tx.startAttempt(id, on: "i-1") }
            try tx.recordArtifactUpload(upload("run-up", attempt: 1, id: "u-up"))
            try tx.recordArtifactUpload(upload("run-done", attempt: 1, id: "u-done"))
            try tx.recordArtifactUpload(upload("run-moved", attempt: 1, id: "u-moved"))
            try tx.recordArtifactUpload(upload("run-requeued", attempt: 1, id: "u-requeued"))
            try tx.setRunStatus("run-done", .failed, reason: "the runner died")
            try tx.setRunStatus("run-moved", .pending, reason: "its instance vanished")
            _ = try tx.startAttempt("run-moved", on: "i-2") // attempt 2 runs; attempt 1's upload is nobody's
            try tx.setRunStatus("run-requeued", .pending, reason: "its instance vanished")
        }
        let orphans = try state.read { try $0.orphanedArtifactUploads() }
        XCTAssertEqual(Set(orphans.map(\.uploadID)), ["u-done", "u-moved", "u-requeued"], "a running attempt's own upload is not orphaned")

        try state.write { tx in
            try tx.recordArtifactUpload(upload("run-moved", attempt: 2, id: "u-moved-2")) // attempt 2 opens its own
            try tx.removeArtifactUpload(runID: "run-moved", path: "big.bin", uploadID: "u-moved") // the sweep, late
        }
        XCTAssertEqual(try state.read { try $0.openArtifactUpload(runID: "run-moved", path: "big.bin")?.uploadID }, "u-moved-2",
                       "forgetting an aborted upload leaves the newer one of the same path")
    }

    func testMultipartPartsAreAtLeast16MiBAndNeverMoreThan10000() {
        let mib = 1 << 20
        XCTAssertEqual(ArtifactService.partSize(for: 1 << 30), 16 * mib, "1 GiB goes in 64 parts of 16 MiB")
        XCTAssertEqual(ArtifactService.partSize(for: 64 * mib + 1), 16 * mib, "a file just over the threshold goes in 5 parts")
        XCTAssertGreaterThanOrEqual(ArtifactService.minimumPartSize, 5 * mib, "S3 refuses parts under 5 MiB but the last")
        let huge = 1 << 40
        let part = ArtifactService.partSize(for: huge)
        XCTAssertLessThanOrEqual((huge + part - 1) / part, 10_000)
        XCTAssertEqual(part % mib, 0)
    }
}
