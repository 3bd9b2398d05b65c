import DstackCore
import XCTest

/// Spot requests the cloud holds unfulfilled, and where launches go by real prices.
final class HeldRequestTests: XCTestCase {
    var temp: TempHome!
    var cloud: FakeCloud!
    var workspace: Workspace!
    var reconciler: Reconciler!

    func make(fulfillmentTimeout: TimeInterval, types: [InstanceTypeFacts]) throws {
        temp = TempHome()
        cloud = FakeCloud(types: types)
        workspace = try cloud.workspace(home: temp.home)
        var options = ReconcilerOptions()
        options.fulfillmentTimeout = fulfillmentTimeout
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        reconciler = Reconciler(workspace: workspace, options: options)
    }

    override func tearDown() { temp?.cleanUp() }

    private var state: StateStore { try! workspace.state() }

    static func type(_ name: String, vcpus: Int, prices: [String: Double]) -> InstanceTypeFacts {
        var facts = InstanceTypeFacts(name: name, vcpus: vcpus, memoryMiB: vcpus * 2048, architecture: "x86_64")
        facts.spotPricesByZone = prices
        facts.spotPricePerHour = prices.values.min()
        return facts
    }

    func testARequestHeldForCapacityMovesToTheNextZoneThenToTheNextType() async throws {
        try make(fulfillmentTimeout: 0, types: [Self.type("small", vcpus: 2, prices: ["zone-a": 0.05, "zone-b": 0.06]),
                                                Self.type("big", vcpus: 8, prices: ["zone-a": 0.20])])
        cloud.fulfilAtOnce = false
        cloud.openRequestStatus = "capacity-not-available"
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.setRule("big", max: 1)
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(cpus: 2))
        }
        _ = try await reconciler.reconcile()
        XCTAssertEqual(cloud.requestedZones, ["zone-a"], "the cheapest zone first")

        let second = try await reconciler.reconcile()
        XCTAssertEqual(cloud.requestedZones, ["zone-a", "zone-b"], "the next zone, in the same pass")
        XCTAssertEqual(Array(second.heldRequests.values), ["small: capacity-not-available in zone-a, trying zone-b"])
        XCTAssertEqual(try state.read { try $0.run("r1")?.reason }, "small: capacity-not-available in zone-a, trying zone-b")
        XCTAssertFalse(cloud.liveRequests.contains("sir-1"), "the held request was cancelled")

        _ = try await reconciler.reconcile()
        XCTAssertEqual(cloud.requestedZones, ["zone-a", "zone-b", "zone-a"])
        XCTAssertEqual(cloud.instances["sir-3"]?.instanceType, "big", "every zone of small is cooled: the next type that fits")
        XCTAssertEqual(try state.read { try $0.run("r1")?.reason }, "small: capacity-not-available in zone-b, trying another type that fits")
        let cooled = try state.read { try $0.offeringCooldowns() }.filter(\.hard).map { "\($0.instanceType)/\($0.zone)" }
        XCTAssertEqual(cooled, ["small/zone-a", "small/zone-b"])
        XCTAssertEqual(try state.read { try $0.provisioningFailures(runID: "r1") }.count, 0, "a held request is no failed launch")
    }

    func testPriceTooLowIsCancelledAtOnceWhileCapacityWaitsForTheTimeout() async throws {
        try make(fulfillmentTimeout: 120, types: [Self.type("small", vcpus: 2, prices: ["zone-a": 0.05, "zone-b": 0.06])])
        cloud.fulfilAtOnce = false
        cloud.openRequestStatus = "capacity-not-available"
        try state.write { tx in
            try tx.setRule("small", max: 2)
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
        }
        _ = try await reconciler.reconcile()
        let waiting = try await reconciler.reconcile()
        XCTAssertEqual(waiting.heldRequests, [:], "capacity may come back: it gets the timeout")

        cloud.openRequestStatus = "price-too-low"
        try state.write { try $0.submitRun(id: "r2", workflow: nil, commands: ["true"], requirements: ResourceRequirements()) }
        _ = try await reconciler.reconcile()
        let cancelled = try await reconciler.reconcile()
        XCTAssertEqual(Array(cancelled.heldRequests.values), ["small: price-too-low in zone-a, trying zone-b"])
    }

    func testAnInstanceFulfilledAfterItsRequestWasCancelledIsTerminated() async throws {
        try make(fulfillmentTimeout: 0, types: [Self.type("small", vcpus: 2, prices: ["zone-a": 0.05, "zone-b": 0.06])])
        cloud.fulfilAtOnce = false
        cloud.openRequestStatus = "capacity-not-available"
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements())
        }
        _ = try await reconciler.reconcile()
        _ = try await reconciler.reconcile() // cancels sir-1
        // EC2 fulfilled it as the cancel went out.
        cloud.add(ManagedInstance(id: "i-1", instanceType: "small", state: .running, launchTime: Date(), spotRequestID: "sir-1"))
        let report = try await reconciler.reconcile()
        XCTAssertTrue(report.terminated.contains("i-1"), "\(report)")
    }

    func testThePlannerPicksTheCheaperTypeByRealPrices() async throws {
        try make(fulfillmentTimeout: 120, types: [Self.type("small", vcpus: 2, prices: ["zone-a": 0.30]),
                                                  Self.type("big", vcpus: 8, prices: ["zone-a": 0.25, "zone-b": 0.10])])
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.setRule("big", max: 1)
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(cpus: 2))
        }
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.launched, ["big": 1], "big is cheaper now, though larger")
        XCTAssertEqual(cloud.requestedZones, ["zone-b"], "in its cheapest zone")
    }
}
