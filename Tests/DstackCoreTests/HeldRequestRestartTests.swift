import DstackCore
import Foundation
import XCTest

/// What the reconciler knows of the spot requests it gave up on lives in state, on both
/// backends: a server restarted after cancelling a held request still terminates the
/// instance the cloud fulfils it with late, and the waiting run still says why it waits.
final class HeldRequestRestartTests: StateTestCase {
    func testAfterARestartALateFulfilledCancelledRequestIsTerminatedAndTheWaitNoteStillShows() async throws {
        for backend in Backend.allCases {
            let location = try makeLocation(backend)
            defer { location.temp.cleanUp() }
            let cloud = FakeCloud(types: [HeldRequestTests.type("small", vcpus: 2, prices: ["zone-a": 0.05, "zone-b": 0.06])])
            cloud.fulfilAtOnce = false
            cloud.openRequestStatus = "capacity-not-available"
            let before = try Self.server(location, cloud: cloud)
            try before.workspace.state().write { tx in
                try tx.setRule("small", max: 1)
                try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
            }
            _ = try await before.reconcile()
            // The next zone's request waits without a holding status: it is not given up.
            cloud.openRequestStatus = "pending-evaluation"
            let cancelling = try await before.reconcile()
            let note = "small: capacity-not-available in zone-a, trying zone-b"
            XCTAssertEqual(Array(cancelling.heldRequests.values), [note], "\(backend)")
            XCTAssertFalse(cloud.liveRequests.contains("sir-1"), "\(backend): the held request was cancelled")

            // A new server process over the same state; EC2 fulfilled sir-1 as the cancel went out.
            let after = try Self.server(location, cloud: cloud)
            cloud.add(ManagedInstance(id: "i-late", instanceType: "small", state: .running, launchTime: Date(), spotRequestID: "sir-1"))
            let report = try await after.reconcile()
            XCTAssertEqual(report.terminated, ["i-late"], "\(backend): terminated at once, not left for the sweep")
            XCTAssertEqual(report.swept, [], "\(backend)")
            XCTAssertEqual(cloud.instances["i-late"]?.state, .terminated, "\(backend)")
            let run = try after.workspace.state().read { try $0.run("r1") }
            XCTAssertEqual(run?.status, .provisioning, "\(backend)")
            XCTAssertEqual(run?.reason, note, "\(backend): the note outlives the process that wrote it")
        }
    }

    func testAWaitNoteGoesOnceNoLaunchIsBringingItsRunUp() async throws {
        let location = try makeLocation(.sqlite)
        defer { location.temp.cleanUp() }
        let cloud = FakeCloud(types: [HeldRequestTests.type("small", vcpus: 2, prices: ["zone-a": 0.05, "zone-b": 0.06])])
        cloud.fulfilAtOnce = false
        cloud.openRequestStatus = "capacity-not-available"
        let reconciler = try Self.server(location, cloud: cloud)
        let state = try reconciler.workspace.state()
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
        }
        _ = try await reconciler.reconcile()
        cloud.openRequestStatus = "pending-evaluation"
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.waitNotes() }.keys.sorted(), ["r1"])

        try state.write { try $0.requestStop("r1") }
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.waitNotes() }, [:], "a stopped run waits for nothing")
    }

    func testCancelledRequestsAreKeptPerVendorOnceEachAndForgottenAfterTheirTime() throws {
        try onEachBackend { location in
            let state = try location.open()
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try state.write { try $0.recordCancelledSpotRequests(["sir-1", "sir-2", "sir-1"], vendor: "aws", at: t0, forgetBefore: .distantPast) }
            try state.write { try $0.recordCancelledSpotRequests(["sir-2"], vendor: "aws", at: t0 + 60, forgetBefore: .distantPast) }
            try state.write { try $0.recordCancelledSpotRequests(["sir-9"], vendor: "other", at: t0 + 60, forgetBefore: .distantPast) }
            XCTAssertEqual(try state.read { try $0.cancelledSpotRequests(vendor: "aws") }, ["sir-1", "sir-2"])
            XCTAssertEqual(try state.read { try $0.cancelledSpotRequests(vendor: "other") }, ["sir-9"])
            XCTAssertEqual(Double(try location.sql("SELECT cancelled_at FROM cancelled_spot_requests WHERE request_id = 'sir-2'")),
                           1_800_000_000, "recording one again keeps its first time")

            try state.write { try $0.recordCancelledSpotRequests(["sir-3"], vendor: "aws", at: t0 + 120, forgetBefore: t0 + 30) }
            XCTAssertEqual(try state.read { try $0.cancelledSpotRequests(vendor: "aws") }, ["sir-3"])
            XCTAssertEqual(try state.read { try $0.cancelledSpotRequests(vendor: "other") }, ["sir-9"])
        }
    }

    func testWaitNotesAreSetReadAndClearedOnEachBackend() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { tx in
                for id in ["r1", "r2"] { try tx.submitRun(id: id, workflow: nil, commands: ["true"], requirements: ResourceRequirements()) }
                try tx.setWaitNote("r1", "small: price-too-low in zone-a, trying zone-b")
            }
            XCTAssertEqual(try state.read { try $0.waitNotes() }, ["r1": "small: price-too-low in zone-a, trying zone-b"])
            try state.write { try $0.setWaitNote("r1", nil) }
            XCTAssertEqual(try state.read { try $0.waitNotes() }, [:])
        }
    }

    /// A reconciler as a freshly started server has it: its own workspace over `location`'s state.
    static func server(_ location: Location, cloud: FakeCloud) throws -> Reconciler {
        let workspace = try cloud.workspace(home: location.temp.home, databaseURL: location.databaseURL)
        var options = ReconcilerOptions()
        options.fulfillmentTimeout = 0
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        return Reconciler(workspace: workspace, options: options)
    }
}
