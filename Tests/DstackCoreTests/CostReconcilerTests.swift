import DstackCore
import XCTest

/// The cost model fed by real reconcile passes against an in-memory cloud whose price
/// history changes inside an instance's life: each pass records the prices it reads, the
/// lives the cloud lists and the spans runs hold instances.
final class CostReconcilerTests: XCTestCase {
    var temp: TempHome!
    var cloud: FakeCloud!
    var workspace: Workspace!
    var reconciler: Reconciler!
    let clock = TestClock()
    var t0: Date!

    override func setUpWithError() throws {
        temp = TempHome()
        t0 = clock.now
        var small = InstanceTypeFacts(name: "small", vcpus: 2, memoryMiB: 4096, architecture: "x86_64", spotPricePerHour: 0.4)
        // $0.10/h in zone-a until t0+1h, then $0.40/h.
        small.spotPriceHistory = [SpotPricePoint(zone: "zone-a", at: t0.addingTimeInterval(-3600), pricePerHour: 0.1),
                                  SpotPricePoint(zone: "zone-a", at: t0.addingTimeInterval(3600), pricePerHour: 0.4)]
        small.spotPricesByZone = ["zone-a": 0.4]
        cloud = FakeCloud(types: [small])
        workspace = try cloud.workspace(home: temp.home)
        var options = ReconcilerOptions()
        options.idleTimeout = 36_000
        options.maxRetries = 2
        options.heartbeatTimeout = 360_000
        options.provisioningTimeout = 360_000
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        reconciler = Reconciler(workspace: workspace, options: options, clock: { [clock] in clock.now })
        _ = try state.write { try $0.setRule("small", max: 1) }
    }

    override func tearDown() { temp.cleanUp() }

    private var state: StateStore { try! workspace.state() }
    private func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    private func advance(to hours: Double) { clock.advance(at(hours: hours).timeIntervalSince(clock.now)) }

    /// The instance just launched, as the cloud lists it: in zone-a, launched at `launched`; its runner registers.
    private func launchedInstance(launched: Date) throws -> String {
        let registered = Set(try state.read { try $0.fleet(vendor: "fake") }.filter { $0.registeredAt != nil }.map(\.id))
        let listed = try XCTUnwrap(cloud.liveInstances.first { !registered.contains($0.id) })
        cloud.add(ManagedInstance(id: listed.id, instanceType: "small", state: .running, launchTime: launched,
                                  spotRequestID: listed.spotRequestID, availabilityZone: "zone-a"))
        try state.write { tx in
            try tx.registerInstance(id: listed.id, vendor: "fake", instanceType: "small", spotRequestID: listed.spotRequestID,
                                    batchToken: try tx.fleetInstance(listed.id)?.launchToken ?? "", tokenHash: "h-\(listed.id)")
        }
        return listed.id
    }

    func testAPriceChangeInsideTheLifeAndAnInterruptionGiveTheRunAndTheRuleTheirShareToTheCent() async throws {
        try state.write { try $0.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: t0) }
        _ = try await reconciler.reconcile()
        let first = try launchedInstance(launched: t0)

        advance(to: 0.5) // booting for 30 minutes, then r1 is assigned
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.run("r1")?.instanceID }, first)

        advance(to: 2.5) // the cloud takes the instance back; r1 is requeued and a replacement launched
        cloud.interrupt(first)
        _ = try await reconciler.reconcile()
        let second = try launchedInstance(launched: at(hours: 2.5))
        XCTAssertNotEqual(first, second)

        advance(to: 3) // 30 minutes of booting; r1's second attempt starts
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.run("r1")?.instanceID }, second)
        advance(to: 4)

        let now = at(hours: 4)
        let (runs, costs) = try state.read { tx in
            (try CostLedger.runCosts(["r1"], tx: tx, now: now), try CostLedger.breakdown(tx, now: now))
        }
        // first: 0:00-1:00 at 0.10 + 1:00-2:30 at 0.40 = 0.70; second: 2:30-4:00 at 0.40 = 0.60
        XCTAssertEqual(costs.instances[first]?.decimalText, "0.700000")
        XCTAssertEqual(costs.instances[second]?.decimalText, "0.600000")
        // r1: 0:30-1:00 at 0.10 + 1:00-2:30 at 0.40 + 3:00-4:00 at 0.40 = 0.05 + 0.60 + 0.40
        XCTAssertEqual(runs["r1"]?.decimalText, "1.050000")
        // The rule: booting 0:00-0:30 at 0.10 and 2:30-3:00 at 0.40.
        XCTAssertEqual(costs.rules["small"]?.decimalText, "0.250000")
    }
}
