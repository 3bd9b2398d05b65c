import DstackCore
import XCTest

/// The planner's rules, one behaviour a test.
final class PlannerTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let facts: [String: InstanceTypeFacts] = [
        "m5.large": InstanceTypeFacts(name: "m5.large", vcpus: 2, memoryMiB: 8192, architecture: "x86_64"),
        "m5.xlarge": InstanceTypeFacts(name: "m5.xlarge", vcpus: 4, memoryMiB: 16384, architecture: "x86_64"),
        "p3.2xlarge": InstanceTypeFacts(name: "p3.2xlarge", vcpus: 8, memoryMiB: 62464,
                                        gpus: [GPUFacts(count: 1, model: "V100")], architecture: "x86_64"),
    ]

    func run(_ id: String, _ requirements: ResourceRequirements) -> PlannerRun {
        PlannerRun(id: id, requirements: requirements)
    }

    func instance(_ id: String, _ type: String, _ phase: PlannerInstance.Phase, launchedAgo: TimeInterval = 600) -> PlannerInstance {
        PlannerInstance(id: id, instanceType: type, phase: phase, launchedAt: now.addingTimeInterval(-launchedAgo))
    }

    func input(rules: [String: Int], runs: [PlannerRun] = [], instances: [PlannerInstance] = [], enabled: Bool = true,
               unavailable: Set<String> = []) -> PlannerInput {
        PlannerInput(rules: rules, enabled: enabled, pendingRuns: runs, instances: instances, facts: facts,
                     unavailableTypes: unavailable, now: now, idleTimeout: 300)
    }

    func testARunWithAnExplicitTypeGetsThatType() {
        let plan = Planner.plan(input(rules: ["m5.large": 1, "m5.xlarge": 1], runs: [run("r1", .init(instanceType: "m5.xlarge"))]))
        XCTAssertEqual(plan.launches, [Plan.Launch(instanceType: "m5.xlarge", count: 1, forRuns: ["r1"])])
    }

    func testARunWithRequirementsGetsTheSmallestAllowedTypeThatFits() {
        let plan = Planner.plan(input(rules: ["m5.large": 1, "m5.xlarge": 1, "p3.2xlarge": 1],
                                      runs: [run("r1", .init(memoryMiB: 10000)), run("r2", .init(gpus: 1))]))
        XCTAssertEqual(plan.launches.map(\.instanceType), ["m5.xlarge", "p3.2xlarge"])
    }

    func testSpotPricesDecideWhenKnown() {
        var priced = input(rules: ["m5.large": 1, "m5.xlarge": 1], runs: [run("r1", .init(cpus: 1))])
        priced.facts["m5.large"]!.spotPricePerHour = 0.09
        priced.facts["m5.xlarge"]!.spotPricePerHour = 0.05
        XCTAssertEqual(Planner.plan(priced).launches.map(\.instanceType), ["m5.xlarge"])
    }

    func testNeverExceedsAMaxCountingInstancesStillProvisioning() {
        let plan = Planner.plan(input(rules: ["m5.large": 2],
                                      runs: (1...5).map { run("r\($0)", .init(instanceType: "m5.large")) },
                                      instances: [instance("i-1", "m5.large", .provisioning)]))
        XCTAssertEqual(plan.launches, [Plan.Launch(instanceType: "m5.large", count: 1, forRuns: ["r2"])])
        XCTAssertEqual(plan.claimedProvisioning["r1"], "m5.large")
        XCTAssertEqual(plan.waiting["r3"], "m5.large is at its max of 2")
    }

    func testFillsIdleInstancesBeforeRequestingNewOnes() {
        let plan = Planner.plan(input(rules: ["m5.large": 3], runs: [run("r1", .init(cpus: 2)), run("r2", .init(cpus: 2))],
                                      instances: [instance("i-1", "m5.large", .idle(since: now.addingTimeInterval(-10)))]))
        XCTAssertEqual(plan.assignments, [Plan.Assignment(runID: "r1", instanceID: "i-1")])
        XCTAssertEqual(plan.launches, [Plan.Launch(instanceType: "m5.large", count: 1, forRuns: ["r2"])])
    }

    func testExplainsWhyARunWaits() {
        let plan = Planner.plan(input(rules: ["m5.large": 1], runs: [run("big", .init(memoryMiB: 65536)),
                                                                    run("typed", .init(instanceType: "c5.large"))]))
        XCTAssertEqual(plan.waiting["big"], "no allowed instance type has 64 GB memory")
        XCTAssertEqual(plan.waiting["typed"], "no rule allows c5.large; run 'dstack autoscale allow c5.large --max N'")
        let disabled = Planner.plan(input(rules: ["m5.large": 1], runs: [run("r", .init())], enabled: false))
        XCTAssertEqual(disabled.waiting["r"], "autoscaling is disabled; run 'dstack autoscale enable'")
        XCTAssertTrue(disabled.hasNoActions)
    }

    func testIdleInstancesPastTheTimeoutAreTerminated() {
        let plan = Planner.plan(input(rules: ["m5.large": 3], instances: [
            instance("stale", "m5.large", .idle(since: now.addingTimeInterval(-301))),
            instance("fresh", "m5.large", .idle(since: now.addingTimeInterval(-5))),
            instance("busy", "m5.large", .busy(runID: "r9")),
        ]))
        XCTAssertEqual(plan.terminations, [Plan.Termination(instanceID: "stale", reason: .idleTimeout, interruptedRunID: nil)])
    }

    func testAnIdleInstancePastTheTimeoutIsReusedWhenARunWantsIt() {
        let plan = Planner.plan(input(rules: ["m5.large": 1], runs: [run("r1", .init(instanceType: "m5.large"))],
                                      instances: [instance("stale", "m5.large", .idle(since: now.addingTimeInterval(-900)))]))
        XCTAssertEqual(plan.assignments, [Plan.Assignment(runID: "r1", instanceID: "stale")])
        XCTAssertEqual(plan.terminations, [])
    }

    func testLoweringAMaxTerminatesIdleFirstThenBusyWhoseRunsAreInterrupted() {
        let plan = Planner.plan(input(rules: ["m5.large": 1], instances: [
            instance("busy-old", "m5.large", .busy(runID: "r-old"), launchedAgo: 900),
            instance("busy-new", "m5.large", .busy(runID: "r-new"), launchedAgo: 60),
            instance("idle", "m5.large", .idle(since: now)),
        ]))
        XCTAssertEqual(plan.terminations, [
            Plan.Termination(instanceID: "idle", reason: .overMax, interruptedRunID: nil),
            Plan.Termination(instanceID: "busy-new", reason: .overMax, interruptedRunID: "r-new"),
        ])
    }

    func testInstancesNoRuleAllowsAndDisablingTerminateEverything() {
        let instances = [instance("a", "m5.large", .idle(since: now)), instance("b", "m5.xlarge", .busy(runID: "r1"))]
        XCTAssertEqual(Set(Planner.plan(input(rules: ["m5.large": 1], instances: instances)).terminations.map(\.instanceID)), ["b"])
        let disabled = Planner.plan(input(rules: ["m5.large": 1, "m5.xlarge": 1], instances: instances, enabled: false))
        XCTAssertEqual(disabled.terminations.map(\.reason), [.disabled, .disabled])
        XCTAssertEqual(disabled.terminations.compactMap(\.interruptedRunID), ["r1"])
    }

    func testATypeWithoutCapacityIsSkippedForAnotherThatFits() {
        let plan = Planner.plan(input(rules: ["m5.large": 1, "m5.xlarge": 1], runs: [run("r1", .init(cpus: 2))],
                                      unavailable: ["m5.large"]))
        XCTAssertEqual(plan.launches.map(\.instanceType), ["m5.xlarge"])
        let stuck = Planner.plan(input(rules: ["m5.large": 1], runs: [run("r1", .init(cpus: 2))], unavailable: ["m5.large"]))
        XCTAssertTrue(stuck.launches.isEmpty)
        XCTAssertEqual(stuck.waiting["r1"], "m5.large has no spot capacity right now; dstack will try again in a few minutes")
    }

    func testNothingToDoGivesNoActions() {
        let plan = Planner.plan(input(rules: ["m5.large": 2], instances: [
            instance("busy", "m5.large", .busy(runID: "r1")), instance("idle", "m5.large", .idle(since: now)),
        ]))
        XCTAssertTrue(plan.hasNoActions)
    }
}

extension PlannerTests {
    func testTheWaitingReasonReadsAnBeforeAVowelSound() {
        let expected = ["m5.xlarge": "an", "c5.large": "a", "local": "a", "inf1.xlarge": "an", "r6g.large": "an", "t3.micro": "a"]
        for (type, article) in expected {
            let facts = InstanceTypeFacts(name: type, vcpus: 4, memoryMiB: 16384, architecture: "x86_64")
            let plan = Planner.plan(PlannerInput(rules: [type: 1],
                                                 pendingRuns: [PlannerRun(id: "r1", requirements: ResourceRequirements(instanceType: type))],
                                                 facts: [type: facts]))
            XCTAssertEqual(plan.waiting["r1"], "waiting for \(article) \(type) instance to start")
        }
    }
}
