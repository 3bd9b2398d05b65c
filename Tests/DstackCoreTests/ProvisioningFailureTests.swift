import DstackCore
import XCTest

/// Runs whose instances never bring up a runner: each launch that closes without the
/// runner registering is a failed attempt, and after `maxProvisioningAttempts` of them
/// the run fails, saying why, with nothing left running and nothing launched again.
final class ProvisioningFailureTests: XCTestCase {
    var temp: TempHome!
    var cloud: FakeCloud!
    var workspace: Workspace!
    var reconciler: Reconciler!
    let clock = TestClock()

    override func setUpWithError() throws {
        temp = TempHome()
        cloud = FakeCloud(types: [InstanceTypeFacts(name: "m5.large", vcpus: 2, memoryMiB: 8192, architecture: "x86_64")])
        workspace = try cloud.workspace(home: temp.home)
        var options = ReconcilerOptions()
        options.idleTimeout = 3600
        options.provisioningTimeout = 900
        options.sweepGrace = 120
        options.maxProvisioningAttempts = 3
        options.delivery = RunnerDelivery(advertiseURL: "http://10.0.0.5:3000", runnerBinaries: ["x86_64": "0123abcd"])
        let clock = self.clock
        reconciler = Reconciler(workspace: workspace, options: options, clock: { clock.now })
        _ = try state.write { try $0.setRule("m5.large", max: 1) }
        try state.write { try $0.submitRun(id: "r1", workflow: nil, commands: ["true"], requirements: ResourceRequirements()) }
    }

    override func tearDown() { temp.cleanUp() }

    private var state: StateStore { try! workspace.state() }
    private func record(_ id: String = "r1") throws -> RunRecord { try XCTUnwrap(try state.read { try $0.run(id) }) }
    private func log(_ id: String = "r1") throws -> String { try state.read { try $0.logs(runID: id) }.map(\.text).joined() }

    func testARunWhoseRunnersNeverRegisterFailsAfterTheMaxAttemptsNamingTheServerURLAndLeavesNothingBehind() async throws {
        var launches = 0
        for attempt in 1...3 {
            let report = try await reconciler.reconcile()
            launches += report.launched["m5.large", default: 0]
            XCTAssertEqual(launches, attempt, "attempt \(attempt) launches one instance")
            XCTAssertEqual(cloud.liveInstances.count, 1)
            clock.advance(901) // past the provisioning timeout, no runner registered
        }
        let final = try await reconciler.reconcile()

        let run = try record()
        XCTAssertEqual(run.status, .failed)
        XCTAssertEqual(run.reason, """
            3 instances of m5.large were launched for this run and none of their runners registered with \
            http://10.0.0.5:3000 within 15m; check that instances can reach that URL (dstack server --advertise-url) \
            and that the runner can start there (see the instance's console output)
            """)
        XCTAssertEqual(final.failedRuns.keys.sorted(), ["r1"])
        XCTAssertEqual(final.launched, [:], "nothing is launched for a run that failed")
        XCTAssertTrue(cloud.liveInstances.isEmpty, "every instance launched for it is terminated")
        XCTAssertTrue(cloud.liveRequests.isEmpty, "and every spot request cancelled")
        let log = try log()
        XCTAssertTrue(log.contains("launch attempt 2 of 3 gave up"), log)

        clock.advance(901)
        let later = try await reconciler.reconcile()
        XCTAssertEqual(later.launched, [:], "nothing relaunches later either")
    }

    func testAnInstanceTakenAwayBeforeItsRunnerRegisteredCountsAtTheNextPassWithoutWaitingForTheSweepGrace() async throws {
        _ = try await reconciler.reconcile()
        let first = try XCTUnwrap(cloud.liveInstances.first)
        cloud.interrupt(first.id)
        clock.advance(1) // far inside both the sweep grace and the provisioning timeout
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.gaveUp.count, 1, "the launch is given up at once")
        let log = try log()
        XCTAssertTrue(log.contains("launch attempt 1 of 3 gave up"), log)
        XCTAssertEqual(report.launched, ["m5.large": 1], "and the run gets its next attempt in the same pass")
        XCTAssertEqual(try record().status, .provisioning)
    }

    func testOneAttemptIsEnoughWhenTheMaxIsOne() async throws {
        reconciler.options.maxProvisioningAttempts = 1
        _ = try await reconciler.reconcile()
        clock.advance(901)
        _ = try await reconciler.reconcile()
        let run = try record()
        XCTAssertEqual(run.status, .failed)
        XCTAssertTrue(run.reason?.hasPrefix("1 instance of m5.large was launched for this run and its runner did not register") ?? false,
                      run.reason ?? "")
    }

    func testInstancesDstackShutsDownItselfAreNotFailedAttempts() async throws {
        _ = try await reconciler.reconcile()
        // `dstack autoscale disable`: the server's next pass shuts everything down.
        try workspace.state().write { _ = try $0.setEnabled(false) }
        clock.advance(1)
        let shutdown = try await reconciler.reconcile()
        XCTAssertFalse(shutdown.terminated.isEmpty, "disabling shut the launch down")
        try workspace.state().write { _ = try $0.setEnabled(true) }
        clock.advance(1)
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.gaveUp, [:])
        let log = try log()
        XCTAssertFalse(log.contains("gave up"), log)
        XCTAssertEqual(report.launched, ["m5.large": 1], "the run is launched for again, its attempts untouched")
    }

    func testAWaitingRunShowsItsStageFromTheCloudsList() async throws {
        cloud.fulfilAtOnce = false
        cloud.openRequestStatus = "capacity-not-available"
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try record().stage, "spot request open", "a launch made this pass, before the cloud lists it")
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try record().stage, "spot request open (capacity-not-available)")

        cloud.fulfil("sir-1", state: .pending)
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try record().stage, "fulfilled (i-1)")

        cloud.setState("i-1", .running)
        _ = try await reconciler.reconcile()
        XCTAssertEqual(try record().stage, "booting")

        let token = try XCTUnwrap(try state.read { try $0.openBatches(vendor: "fake") }.first?.token)
        try state.write { tx in
            try tx.registerInstance(id: "i-1", vendor: "fake", instanceType: "m5.large", spotRequestID: "sir-1",
                                    batchToken: token, tokenHash: "h")
        }
        let report = try await reconciler.reconcile()
        XCTAssertEqual(report.assignments, [Plan.Assignment(runID: "r1", instanceID: "i-1")])
        XCTAssertEqual(try record().status, .running)
        XCTAssertEqual(try record().stage, "runner registered", "assigned, not yet picked up by the runner")
    }

    func testTheReportNamesTheRunsAndInstancesOfWhatAPassDid() async throws {
        let launch = try await reconciler.reconcile()
        let summary = try XCTUnwrap(launch.logSummary)
        XCTAssertTrue(summary.hasPrefix("requested 1 m5.large for r1 (launch dstack-"), summary)
        clock.advance(901)
        let next = try await reconciler.reconcile()
        let gaveUp = try XCTUnwrap(next.logSummary)
        XCTAssertTrue(gaveUp.contains("gave up launch dstack-"), gaveUp)
        XCTAssertTrue(gaveUp.contains("its runners did not register within 15m"), gaveUp)
        XCTAssertTrue(gaveUp.contains("terminated i-1"), gaveUp)
    }
}

/// A clock the test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date()

    var now: Date { lock.withLock { current } }

    func advance(_ seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}

/// The server's log and its shutdown: small parts with their own rules.
final class ServerLogTests: XCTestCase {
    func testEveryLineStartsWithItsUTCTimeInISO8601() {
        XCTAssertEqual(ServerLog.line("dstack server stopped", at: Date(timeIntervalSince1970: 1_795_944_723.9)),
                       "2026-11-29T09:32:03Z dstack server stopped")
    }

    func testClosingTheWakeSignalReleasesWaitersAtOnceButNotTheKeysItKeeps() async {
        let signal = WakeSignal()
        async let released = signal.wait("i-1", timeout: 600)
        try? await Task.sleep(nanoseconds: 50_000_000)
        signal.close(except: ["reconcile"])
        let wokenEarly = await released
        XCTAssertTrue(wokenEarly, "a waiting long poll is let go")
        let later = await signal.wait("i-2", timeout: 600)
        XCTAssertTrue(later, "a poll that starts after the close does not wait")
        let kept = await signal.wait("reconcile", timeout: 0.05)
        XCTAssertFalse(kept, "the reconcile loop's own key still waits for its timeout")
    }
}
