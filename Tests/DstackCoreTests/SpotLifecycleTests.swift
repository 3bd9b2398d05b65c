import DstackCore
import XCTest

/// Interruptions seen from the runner and from the cloud's list, retry policies and
/// rebalance policies, one reconcile pass at a time against an in-memory cloud.
final class SpotLifecycleTests: XCTestCase {
    var temp: TempHome!
    var cloud: FakeCloud!
    var workspace: Workspace!
    var reconciler: Reconciler!
    var service: RunnerService!
    let clock = TestClock()
    var now: Date {
        get { clock.now }
        set { clock.advance(newValue.timeIntervalSince(clock.now)) }
    }

    override func setUpWithError() throws {
        temp = TempHome()
        cloud = FakeCloud(types: [InstanceTypeFacts(name: "small", vcpus: 2, memoryMiB: 4096, architecture: "x86_64")])
        workspace = try cloud.workspace(home: temp.home)
        var options = ReconcilerOptions()
        options.idleTimeout = 3600
        options.maxRetries = 2
        options.delivery = RunnerDelivery(advertiseURL: "https://dstack.example:3000", runnerBinaries: ["x86_64": "0123abcd"])
        reconciler = Reconciler(workspace: workspace, options: options, clock: { [clock] in clock.now })
        service = RunnerService(workspace: workspace, signal: WakeSignal(), wakeReconciler: {})
        service.maxRetries = 2
        _ = try state.write { try $0.setRule("small", max: 1) }
    }

    override func tearDown() { temp.cleanUp() }

    private var state: StateStore { try! workspace.state() }

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

    /// Submits r1, launches, registers and assigns it; returns its instance.
    private func runningRun(retry: RunRetryPolicy? = nil) async throws -> String {
        try state.write { tx in
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: now)
            if let retry { try tx.setRunRetryPolicy("r1", retry) }
        }
        _ = try await reconciler.reconcile()
        let instance = try XCTUnwrap(cloud.liveInstances.first?.id)
        cloud.setZone(instance, "zone-a")
        try registerEveryLaunchedInstance()
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.run("r1")?.status }, .running)
        return instance
    }

    func testAnInterruptionTheCloudListsRequeuesTheRunCoolsThePoolAndLaunchesAReplacementInTheSamePass() async throws {
        let first = try await runningRun()
        cloud.signalInterruption(first, "spot request status marked-for-termination")
        let report = try await reconciler.reconcile()

        XCTAssertEqual(report.interrupted, [first: "spot request status marked-for-termination"])
        XCTAssertEqual(report.launched, ["small": 1], "the interrupted instance no longer counts against the max of 1")
        XCTAssertFalse(report.terminated.contains(first), "the instance is left for the cloud to take")
        let run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.status, .provisioning)
        XCTAssertEqual(run.interruptions, 1)
        XCTAssertEqual(run.interruptedBy, "spot request status marked-for-termination")
        let log = try state.read { try $0.logs(runID: "r1") }.map(\.text).joined()
        XCTAssertTrue(log.contains("attempt 1 interrupted: spot request status marked-for-termination (instance \(first)); it will be retried"), log)
        XCTAssertEqual(try state.read { try $0.offeringCooldowns(at: now) }.map { "\($0.instanceType)/\($0.zone)/\($0.hard)" },
                       ["small/zone-a/false"])
        XCTAssertEqual(try state.read { try $0.fleetInstance(first)?.phase }, .interrupted)
    }

    func testTheFirstSignalWinsAndTheInstanceGetsNoMoreWork() async throws {
        let first = try await runningRun()
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .interruption, action: "terminate", time: "2027-01-15T08:04:31Z"),
                           at: now)
        cloud.signalInterruption(first, "instance state reason Server.SpotInstanceTermination")
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.interrupted, [:], "the runner's notice came first")
        let run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.interruptedBy, "spot interruption notice, terminate at 08:04:31Z")
        XCTAssertEqual(run.interruptions, 1, "one interruption, however many signals")
        XCTAssertEqual(try state.read { try $0.fleetInstance(first)?.interruption }, "spot interruption notice, terminate at 08:04:31Z")

        // The replacement registers and takes the run; the interrupted instance never does.
        try registerEveryLaunchedInstance()
        _ = try await reconciler.reconcile()
        XCTAssertNotEqual(try state.read { try $0.run("r1")?.instanceID }, first)
        XCTAssertEqual(try state.read { try $0.run("r1")?.attempt }, 2)
    }

    func testAnInterruptedInstanceTheCloudDoesNotTakeIsTerminatedAfterItsTime() async throws {
        let first = try await runningRun()
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .interruption, action: "terminate",
                                                                  time: ISO8601DateFormatter().string(from: now.addingTimeInterval(120))),
                           at: now)
        now = now.addingTimeInterval(60)
        let early = try await reconciler.reconcile()
        XCTAssertFalse(early.terminated.contains(first))
        now = now.addingTimeInterval(120)
        let late = try await reconciler.reconcile()
        XCTAssertTrue(late.terminated.contains(first), "\(late)")
    }

    func testDisableTakesAnInterruptedInstanceToo() async throws {
        let first = try await runningRun()
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .interruption, action: "terminate", time: nil), at: now)
        _ = try state.write { try $0.setEnabled(false) }
        _ = try await reconciler.reconcile()
        XCTAssertTrue(cloud.liveInstances.isEmpty, "\(cloud.liveInstances)")
    }

    func testARunWhosePolicyLeavesOutInterruptionEndsInterrupted() async throws {
        let first = try await runningRun(retry: RunRetryPolicy(onEvents: [.error]))
        cloud.signalInterruption(first, "spot request status instance-terminated-by-price")
        _ = try await reconciler.reconcile()
        let run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.status, .interrupted)
        XCTAssertEqual(run.reason, "spot request status instance-terminated-by-price (instance \(first)); not retried: its retry policy does not retry interruptions")
    }

    func testARetryDurationThatHasPassedStopsRetries() async throws {
        let first = try await runningRun(retry: RunRetryPolicy(onEvents: [.interruption], duration: 3600))
        now = now.addingTimeInterval(7200)
        cloud.signalInterruption(first, "spot request status instance-terminated-no-capacity")
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try state.read { try $0.run("r1")?.reason }?.hasSuffix("not retried: its retry duration has passed"), true)
    }

    func testAFailedAttemptIsRetriedWhenThePolicySaysErrorAndEveryAttemptStaysInTheLog() async throws {
        let first = try await runningRun(retry: RunRetryPolicy(onEvents: [.error]))
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 1, exitCode: 3))
        var run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.status, .pending)
        XCTAssertEqual(run.reason, "retrying: attempt 1 failed with exit code 3")
        _ = try await reconciler.reconcile()
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 2, exitCode: 3))
        _ = try await reconciler.reconcile()
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 3, exitCode: 3))
        run = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(run.status, .failed, "two retries (--max-retries 2), then it fails")
        XCTAssertEqual(run.attempt, 3)
        let log = try state.read { try $0.logs(runID: "r1") }.map(\.text).joined()
        XCTAssertTrue(log.contains("attempt 1 failed with exit code 3; it will be retried (error retry 1 of 2)"), log)
        XCTAssertTrue(log.contains("attempt 3 exited with code 3"), log)
    }

    func testWithoutARetryPolicyAFailedAttemptIsNotRetried() async throws {
        let first = try await runningRun()
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 1, exitCode: 1))
        XCTAssertEqual(try state.read { try $0.run("r1")?.status }, .failed)
    }

    func testARunWhosePolicyLeavesOutNoCapacityFailsWhenThereIsNone() async throws {
        cloud.noCapacity = ["small"]
        try state.write { tx in
            try tx.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: now)
            try tx.setRunRetryPolicy("r1", RunRetryPolicy(onEvents: [.interruption]))
            try tx.submitRun(id: "r2", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: now)
        }
        _ = try await reconciler.reconcile()
        let failed = try XCTUnwrap(try state.read { try $0.run("r1") })
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.reason?.hasSuffix("not retried: its retry policy does not include no-capacity") == true, failed.reason ?? "")
        XCTAssertEqual(try state.read { try $0.run("r2")?.status }?.isWaiting, true, "without a policy a run waits for capacity")
    }

    func testARebalanceRecommendationFollowsItsRulesPolicy() async throws {
        let first = try await runningRun()
        // ignore (the default): nothing changes.
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .rebalance, time: nil), at: now)
        XCTAssertNil(try state.read { try $0.fleetInstance(first)?.draining })

        // replace: the run goes on, a replacement starts now, and the instance goes once idle.
        try state.write { _ = try $0.setRebalancePolicy(.replace, for: "small") }
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .rebalance, time: nil), at: now)
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.launched, ["small": 1])
        XCTAssertEqual(try state.read { try $0.run("r1")?.status }, .running, "the run on it goes on")
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 1, exitCode: 0))
        let after = try await reconciler.reconcile()
        XCTAssertTrue(after.terminated.contains(first), "drained once idle: \(after)")
    }

    func testADrainPolicyGivesTheInstanceNoNewRunsAndStartsNothing() async throws {
        let first = try await runningRun()
        try state.write { _ = try $0.setRebalancePolicy(.drain, for: "small") }
        try service.notice(instanceID: first, RunnerAPI.SpotNotice(kind: .rebalance, time: nil), at: now)
        try state.write { try $0.submitRun(id: "r2", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: now) }
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.launched, [:], "the drained instance still counts against the max of 1")
        try service.finish(instanceID: first, runID: "r1", exit: RunnerAPI.RunExit(attempt: 1, exitCode: 0))
        let after = try await reconciler.reconcile()
        XCTAssertTrue(after.terminated.contains(first))
        XCTAssertEqual(after.launched, ["small": 1], "r2 gets a new instance, not the drained one")
        XCTAssertEqual(try state.read { try $0.run("r2")?.status }, .provisioning)
    }
}


extension SpotLifecycleTests {
    func testAnInstanceTakenBackWhileBootingIsReplacedInTheNextPassWithoutLosingAnAttempt() async throws {
        try state.write { try $0.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements(), at: now) }
        _ = try await reconciler.reconcile()
        let booting = try XCTUnwrap(cloud.liveInstances.first?.id)
        cloud.signalInterruption(booting, "instance state reason Server.SpotInstanceTermination")
        cloud.interrupt(booting)

        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.launched, ["small": 1], "replaced at once, not after the sweep grace: \(report)")
        XCTAssertEqual(report.failedRuns, [:])
        XCTAssertEqual(try state.read { try $0.provisioningFailures(runID: "r1") }.count, 0, "no provisioning attempt lost")
        let log = try state.read { try $0.logs(runID: "r1") }.map(\.text).joined()
        XCTAssertTrue(log.contains("was taken back before its runner registered (instance state reason Server.SpotInstanceTermination); launching again"), log)
        XCTAssertEqual(try state.read { try $0.offeringCooldowns(at: now) }.map(\.instanceType), ["small"])
    }
}
