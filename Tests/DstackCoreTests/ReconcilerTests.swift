import DstackCore
import XCTest

/// One reconcile pass at a time, against an in-memory cloud.
final class ReconcilerTests: XCTestCase {
    var temp: TempHome!
    var cloud: FakeCloud!
    var workspace: Workspace!
    var reconciler: Reconciler!

    override func setUpWithError() throws {
        temp = TempHome()
        cloud = FakeCloud(types: [
            InstanceTypeFacts(name: "small", vcpus: 2, memoryMiB: 4096, architecture: "x86_64"),
            InstanceTypeFacts(name: "big", vcpus: 8, memoryMiB: 32768, architecture: "x86_64"),
        ])
        workspace = try cloud.workspace(home: temp.home)
        var options = ReconcilerOptions()
        options.idleTimeout = 3600
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        reconciler = Reconciler(workspace: workspace, options: options)
    }

    override func tearDown() { temp.cleanUp() }

    private var state: StateStore { try! workspace.state() }

    private func submit(_ id: String, _ requirements: ResourceRequirements) throws {
        try state.write { try $0.submitRun(id: id, workflow: nil, commands: ["true"], requirements: requirements) }
    }

    /// What a runner does when it boots: register with its batch (by launch token).
    private func registerEveryLaunchedInstance() throws {
        for instance in cloud.liveInstances {
            try state.write { tx in
                guard try tx.fleetInstance(instance.id)?.registeredAt == nil else { return }
                let token = try tx.fleetInstance(instance.id)?.launchToken ?? ""
                try tx.registerInstance(id: instance.id, vendor: "fake", instanceType: instance.instanceType,
                                        spotRequestID: instance.spotRequestID, batchToken: token, tokenHash: "h-\(instance.id)")
            }
        }
    }

    func testAPendingRunLaunchesTheSmallestFittingTypeAndIsAssignedOnceItsRunnerRegisters() async throws {
        try state.write { try $0.setRule("small", max: 1); try $0.setRule("big", max: 1) }
        try submit("r1", ResourceRequirements(cpus: 2))
        let first = try await reconciler.reconcile()
        XCTAssertEqual(first.launched, ["small": 1])
        XCTAssertEqual(try state.read { try $0.run("r1")?.status }, .provisioning)
        try registerEveryLaunchedInstance()
        let second = try await reconciler.reconcile()
        XCTAssertEqual(second.assigned, 1)
        XCTAssertEqual(try state.read { try $0.run("r1")?.status }, .running)
    }

    func testALaunchIsJournaledBeforeTheCloudIsCalled() async throws {
        _ = try state.write { try $0.setRule("small", max: 1) }
        try submit("r1", ResourceRequirements(instanceType: "small"))
        let store = state
        var journaled: LaunchRecord.Status?
        cloud.onRequest = { request in
            journaled = try? store.read { try $0.launches(vendor: "fake") }.first { $0.token == request.idempotencyToken }?.status
        }
        _ = try await reconciler.reconcile()
        XCTAssertEqual(journaled, .intent, "the intent with its token is in state before requestSpot runs")
    }

    func testALaunchLeftUnsentByACrashIsSentAgainWithTheSameToken() async throws {
        try state.write { tx in
            try tx.setRule("small", max: 1)
            try tx.journalBatch(token: "dstack-crashed", vendor: "fake", instanceType: "small", count: 1, registrationHash: "old")
        }
        try submit("r1", ResourceRequirements(instanceType: "small"))
        var tokens: [String] = []
        cloud.onRequest = { tokens.append($0.idempotencyToken) }
        _ = try await reconciler.reconcile()
        XCTAssertEqual(tokens, ["dstack-crashed"], "the journaled launch is resent and no second one is made")
        XCTAssertEqual(cloud.liveInstances.count, 1)
    }

    func testASteadyStatePassMakesOneCallWhateverTheFleetSize() async throws {
        for fleetSize in [1, 20] {
            try setUpWithError()
            _ = try state.write { try $0.setRule("small", max: 50) }
            for index in 0..<fleetSize { try submit("r\(index)", ResourceRequirements(instanceType: "small")) }
            _ = try await reconciler.reconcile()
            try registerEveryLaunchedInstance()
            _ = try await reconciler.reconcile()
            cloud.resetCalls()
            let steady = try await reconciler.reconcile()
            XCTAssertEqual(cloud.calls, ["list"], "fleet of \(fleetSize)")
            XCTAssertEqual(steady.providerCalls, 1)
            temp.cleanUp()
        }
    }

    /// A pass that has nothing to change works it out in reads: it does not queue for
    /// the write lock (SQLite's writer, Postgres's advisory lock) that another server's
    /// write holds, so it holds up no run submission and waits on none.
    func testASteadyPassWithAWaitingQueueCompletesWhileAnotherWriterHoldsTheWriteLock() async throws {
        _ = try state.write { try $0.setRule("small", max: 1) }
        for index in 0..<3 { try submit("r\(index)", ResourceRequirements(instanceType: "small")) }
        _ = try await reconciler.reconcile()
        try registerEveryLaunchedInstance()
        for _ in 0..<2 { _ = try await reconciler.reconcile() } // r0 assigned; r1 and r2 wait at the max, with reasons
        XCTAssertEqual(try state.read { try $0.waitingRuns().map(\.id) }, ["r1", "r2"])

        let other = try StateStore(home: temp.home, databaseURL: workspace.databaseURL) // another server's connection
        let holder = WriteLockHolder()
        holder.hold(other)
        let steady = try await reconciler.reconcile()
        let waitedFor = holder.release()
        XCTAssertFalse(waitedFor, "the steady pass waited for the write lock another writer held")
        XCTAssertEqual(steady.assigned + steady.launched.count + steady.terminated.count, 0)
        XCTAssertEqual(try state.read { try $0.waitingRuns().map(\.id) }, ["r1", "r2"])
    }

    func testATypeWithoutCapacityIsSkippedForAnotherThatFits() async throws {
        try state.write { try $0.setRule("small", max: 1); try $0.setRule("big", max: 1) }
        cloud.noCapacity = ["small"]
        try submit("r1", ResourceRequirements(cpus: 1))
        let first = try await reconciler.reconcile()
        XCTAssertEqual(first.launched, [:])
        XCTAssertTrue(try state.read { try $0.run("r1")?.reason }?.hasPrefix("could not launch small: no spot capacity") ?? false)
        let second = try await reconciler.reconcile()
        XCTAssertEqual(second.launched, ["big": 1], "small is skipped for a few minutes")
    }

    func testAVanishedInstanceSendsItsRunBackUntilRetriesRunOut() async throws {
        reconciler.options.maxRetries = 1
        _ = try state.write { try $0.setRule("small", max: 1) }
        try submit("r1", ResourceRequirements(instanceType: "small"))
        for attempt in 1...2 {
            _ = try await reconciler.reconcile()
            try registerEveryLaunchedInstance()
            _ = try await reconciler.reconcile()
            let instance = try XCTUnwrap(try state.read { try $0.run("r1")?.instanceID })
            XCTAssertEqual(try state.read { try $0.run("r1")?.attempt }, attempt)
            cloud.interrupt(instance)
            _ = try await reconciler.reconcile()
        }
        let run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.status, .interrupted)
        let log = try state.read { try $0.logs(runID: "r1") }.map(\.text).joined()
        XCTAssertTrue(log.contains("attempt 1 interrupted"), log)
        XCTAssertTrue(log.contains("attempt 2 interrupted"), log)
        XCTAssertTrue(log.contains("no retries left"), log)
    }

    func testAnInstanceStateDoesNotKnowIsSweptAfterTheGracePeriod() async throws {
        reconciler.options.sweepGrace = 0
        _ = try state.write { try $0.setRule("small", max: 1) }
        let stray = try await cloud.requestSpot(SpotRequest(instanceType: "small", count: 1, userData: "", idempotencyToken: "elsewhere"))
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.swept, stray.instances.map(\.id))
        XCTAssertTrue(cloud.liveInstances.isEmpty)
    }
}

extension ReconcilerTests {
    func testARunnerThatStopsAnsweringLosesItsMachineAndItsRunIsRetried() async throws {
        _ = try state.write { try $0.setRule("small", max: 1) }
        try submit("r1", ResourceRequirements(instanceType: "small"))
        _ = try await reconciler.reconcile()
        try registerEveryLaunchedInstance()
        _ = try await reconciler.reconcile()
        let instance = try XCTUnwrap(try state.read { try $0.run("r1")?.instanceID })
        // From now on any silence is too long: the runner has said nothing since it registered.
        reconciler.options.heartbeatTimeout = 0
        try await Task.sleep(nanoseconds: 10_000_000)
        let report = try await reconciler.reconcile()
        XCTAssertTrue(report.retried.contains("r1"))
        XCTAssertFalse(cloud.liveInstances.contains { $0.id == instance }, "the silent runner's machine is terminated")
        XCTAssertTrue(try state.read { try $0.logs(runID: "r1") }.map(\.text).joined().contains("stopped answering"))
    }
}

/// Holds a write transaction open on a thread of its own until released, or for 30 s:
/// whatever needs the write lock meanwhile waits for it.
private final class WriteLockHolder: @unchecked Sendable { // the semaphores order every access to `timedOut`
    private let holding = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var timedOut = false

    func hold(_ state: StateStore) {
        Thread {
            try? state.write { tx in
                _ = try? tx.rules() // the lock is taken as the write begins, on either backend
                self.holding.signal()
                self.timedOut = self.released.wait(timeout: .now() + 30) == .timedOut
            }
            self.finished.signal()
        }.start()
        holding.wait()
    }

    /// Lets the write go; true when it had to give up waiting (something sat behind it).
    func release() -> Bool {
        released.signal()
        finished.wait()
        return timedOut
    }
}
