import DstackCore
import XCTest

/// A run that asks for a disk goes only on an instance launched with at least that disk:
/// an idle instance with the image's default disk is no place for it.
final class PlannerDiskTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let facts = ["m5.large": InstanceTypeFacts(name: "m5.large", vcpus: 2, memoryMiB: 8192, architecture: "x86_64")]

    func idle(_ id: String, disk: Int?) -> PlannerInstance {
        PlannerInstance(id: id, instanceType: "m5.large", phase: .idle(since: now.addingTimeInterval(-10)),
                        launchedAt: now.addingTimeInterval(-600), diskGB: disk)
    }

    func plan(max: Int, runs: [PlannerRun], instances: [PlannerInstance]) -> Plan {
        Planner.plan(PlannerInput(rules: ["m5.large": max], pendingRuns: runs, instances: instances, facts: facts, now: now))
    }

    func testAnIdleInstanceWithTheDefaultDiskIsPassedOverAndOneWithTheDiskIsLaunched() {
        let result = plan(max: 2, runs: [PlannerRun(id: "big", requirements: .init(diskGB: 100))], instances: [idle("i-small", disk: nil)])
        XCTAssertEqual(result.assignments, [])
        XCTAssertEqual(result.launches, [Plan.Launch(instanceType: "m5.large", count: 1, forRuns: ["big"])])
    }

    func testAnIdleInstanceWithEnoughDiskTakesTheRunAndOthersStayForRunsThatNeedNone() {
        let result = plan(max: 2, runs: [PlannerRun(id: "big", requirements: .init(diskGB: 100)), PlannerRun(id: "any", requirements: .init())],
                          instances: [idle("i-big", disk: 200), idle("i-small", disk: nil)])
        XCTAssertEqual(Set(result.assignments.map { "\($0.runID)→\($0.instanceID)" }), ["big→i-big", "any→i-small"])
        XCTAssertEqual(result.launches, [])
    }

    func testARunWaitsForASlotStillComingUpWithItsDiskInsteadOfLaunchingAgain() {
        let starting = PlannerInstance(id: "batch:t:0", instanceType: "m5.large", phase: .provisioning, launchedAt: now, diskGB: 100)
        let result = plan(max: 2, runs: [PlannerRun(id: "big", requirements: .init(diskGB: 100))], instances: [starting])
        XCTAssertEqual(result.launches, [], "the slot being launched for it is claimed: no second launch")
        XCTAssertEqual(result.claimedProvisioning["big"], "m5.large")
    }

    func testASlotComingUpWithTooSmallADiskIsNotClaimed() {
        let starting = PlannerInstance(id: "batch:t:0", instanceType: "m5.large", phase: .provisioning, launchedAt: now, diskGB: 20)
        let result = plan(max: 2, runs: [PlannerRun(id: "big", requirements: .init(diskGB: 100))], instances: [starting])
        XCTAssertEqual(result.launches, [Plan.Launch(instanceType: "m5.large", count: 1, forRuns: ["big"])])
    }
}
