import DstackCore
import XCTest

/// A run's disk reaches the provider's launch request: a batch asks for the largest
/// disk among the runs it is launched for.
final class DiskLaunchTests: XCTestCase {
    func testTheLaunchAsksForTheLargestDiskOfItsRuns() async throws {
        let temp = TempHome()
        defer { temp.cleanUp() }
        let cloud = FakeCloud(types: [InstanceTypeFacts(name: "small", vcpus: 2, memoryMiB: 4096, architecture: "x86_64")])
        let requests = RequestLog()
        cloud.onRequest = { requests.append($0) }
        let workspace = try cloud.workspace(home: temp.home)
        let state = try workspace.state()
        let workflow = try XCTUnwrap(WorkflowFile.parse(
            "workflows:\n  - name: w\n    commands: [x]\n    resources:\n      disk: 100\n", file: "w.yaml").workflow(named: "w"))
        try state.write { tx in
            try tx.setRule("small", max: 3)
            try tx.submitRun(id: "r1", workflow: "w", commands: workflow.commands, requirements: workflow.requirements)
            try tx.submitRun(id: "r2", workflow: nil, commands: ["x"], requirements: ResourceRequirements(diskGB: 40))
        }
        var options = ReconcilerOptions()
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        _ = try await Reconciler(workspace: workspace, options: options).reconcile()
        XCTAssertEqual(requests.all.map(\.count), [2])
        XCTAssertEqual(requests.all.first?.diskGB, 100)
        let batch = try XCTUnwrap(state.read { try $0.openBatches(vendor: "fake") }.first)
        XCTAssertEqual(batch.diskGB, 100, "the journal keeps the disk, so a launch resent after a crash asks for it again")

        try state.write { tx in try tx.submitRun(id: "r3", workflow: nil, commands: ["x"], requirements: ResourceRequirements()) }
        _ = try await Reconciler(workspace: workspace, options: options).reconcile()
        XCTAssertEqual(requests.all.count, 2)
        XCTAssertNil(requests.all.last?.diskGB, "no disk asked for: the image's default")
    }
}

final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [SpotRequest] = []
    func append(_ request: SpotRequest) { lock.withLock { requests.append(request) } }
    var all: [SpotRequest] { lock.withLock { requests } }
}
