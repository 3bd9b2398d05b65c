import DstackCore
import XCTest

/// Manual launches (`dstack instances request`) go through the planner like the
/// launches for runs: all or nothing, never past a max, after the runs.
final class PlannerInstanceRequestTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let facts = ["m5.large": InstanceTypeFacts(name: "m5.large", vcpus: 2, memoryMiB: 8192, architecture: "x86_64")]

    func plan(rules: [String: Int], enabled: Bool = true, runs: [PlannerRun] = [], instances: [PlannerInstance] = [],
              requests: [PlannerInstanceRequest]) -> Plan {
        Planner.plan(PlannerInput(rules: rules, enabled: enabled, pendingRuns: runs, instances: instances, facts: facts,
                                  now: now, instanceRequests: requests))
    }

    func testARequestWithinTheMaxIsLaunchedForNoRun() {
        let result = plan(rules: ["m5.large": 3], requests: [.init(id: "q1", instanceType: "m5.large", count: 2)])
        XCTAssertEqual(result.launches, [Plan.Launch(instanceType: "m5.large", count: 2, forRuns: [], forRequest: "q1")])
        XCTAssertEqual(result.refusedRequests, [:])
    }

    func testARequestThatWouldPassTheMaxIsRefusedWhole() {
        let live = PlannerInstance(id: "i-1", instanceType: "m5.large", phase: .idle(since: now), launchedAt: now)
        let result = plan(rules: ["m5.large": 2], instances: [live], requests: [.init(id: "q1", instanceType: "m5.large", count: 2)])
        XCTAssertEqual(result.launches, [])
        XCTAssertEqual(result.refusedRequests, ["q1": "m5.large is at its max of 2 (1 running or pending)"])
    }

    func testRunsComeFirstAndARequestCountsWhatThePlanLaunches() {
        let result = plan(rules: ["m5.large": 2], runs: [PlannerRun(id: "r1", requirements: .init(instanceType: "m5.large"))],
                          requests: [.init(id: "q1", instanceType: "m5.large", count: 1), .init(id: "q2", instanceType: "m5.large", count: 1)])
        XCTAssertEqual(result.launches.map(\.forRuns), [["r1"], []])
        XCTAssertEqual(result.launches.last?.forRequest, "q1")
        XCTAssertEqual(result.refusedRequests, ["q2": "m5.large is at its max of 2 (2 running or pending)"])
    }

    func testNoRuleOrDisabledAutoscalingRefusesARequest() {
        XCTAssertEqual(plan(rules: [:], requests: [.init(id: "q1", instanceType: "m5.large", count: 1)]).refusedRequests,
                       ["q1": "no rule allows m5.large; run 'dstack autoscale allow m5.large --max N' first"])
        XCTAssertEqual(plan(rules: ["m5.large": 1], enabled: false, requests: [.init(id: "q1", instanceType: "m5.large", count: 1)])
                        .refusedRequests, ["q1": "autoscaling is disabled; run 'dstack autoscale enable' first"])
    }
}
