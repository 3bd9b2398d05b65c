import DstackCore
import XCTest

/// Terminations are journaled before the cloud is called, as launches are. When the call
/// fails (EC2 throttling past the retries, a dropped connection: what the chaos test
/// against moto produces), the instances have already left the fleet; the journal sends
/// the termination again the next pass instead of leaving them, billing, until the sweep
/// finds them past its grace period (or, on a cloud that lists only what state knows,
/// never). Found by `AWSTests.ChaosOnEC2Tests` with 70% of EC2 calls faulted.
final class TerminationJournalTests: StateTestCase {
    func testATerminationTheCloudFailedIsSentAgainTheNextPassAndThenForgotten() async throws {
        for backend in Backend.allCases {
            let location = try makeLocation(backend)
            defer { location.temp.cleanUp() }
            let cloud = FakeCloud(types: [HeldRequestTests.type("small", vcpus: 2, prices: ["zone-a": 0.05])])
            let reconciler = try HeldRequestRestartTests.server(location, cloud: cloud)
            let state = try reconciler.workspace.state()
            try state.write { tx in
                try tx.setRule("small", max: 1)
                try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
            }
            _ = try await reconciler.reconcile()
            XCTAssertEqual(cloud.liveInstances.map(\.id), ["i-1"], "\(backend)")

            _ = try state.write { try $0.setEnabled(false) }
            cloud.failTerminations = 1
            do {
                _ = try await reconciler.reconcile()
                XCTFail("\(backend): the pass whose terminate failed reports it")
            } catch ProviderError.throttled {}
            XCTAssertEqual(cloud.liveInstances.map(\.id), ["i-1"], "\(backend): the cloud did nothing")
            XCTAssertEqual(try state.read { try $0.journaledTerminations(vendor: "fake") },
                           TerminationTarget(instanceIDs: ["i-1"], spotRequestIDs: ["sir-1"]), "\(backend)")

            let next = try await reconciler.reconcile()
            XCTAssertEqual(next.terminated, ["i-1"], "\(backend): sent again at once, not after the sweep grace")
            XCTAssertEqual(cloud.liveInstances.map(\.id), [], "\(backend)")
            XCTAssertTrue(try state.read { try $0.journaledTerminations(vendor: "fake") }.isEmpty, "\(backend)")
            let quiet = try await reconciler.reconcile()
            XCTAssertEqual(quiet.terminated, [], "\(backend): nothing is sent twice")
        }
    }

    func testAJournaledTerminationTheCloudStillFailsDoesNotStopThePass() async throws {
        let location = try makeLocation(.sqlite)
        defer { location.temp.cleanUp() }
        let cloud = FakeCloud(types: [HeldRequestTests.type("small", vcpus: 2, prices: ["zone-a": 0.05])])
        let reconciler = try HeldRequestRestartTests.server(location, cloud: cloud)
        let state = try reconciler.workspace.state()
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.journalTermination(TerminationTarget(instanceIDs: ["i-gone"]), vendor: "fake", at: Date())
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
        }
        cloud.failTerminations = 1
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.launched, ["small": 1], "planning went on")
        XCTAssertEqual(report.errors.count, 1, "\(report.errors)")
        XCTAssertTrue(report.errors[0].hasPrefix("could not terminate i-gone yet: "), report.errors[0])
        XCTAssertEqual(try state.read { try $0.journaledTerminations(vendor: "fake") }.instanceIDs, ["i-gone"])
    }
}
