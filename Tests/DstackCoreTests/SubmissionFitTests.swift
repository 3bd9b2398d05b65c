import DstackCore
import XCTest

/// A run that no allowed type can ever fit is refused at submission, with the words the
/// planner would give while it waited.
final class SubmissionFitTests: XCTestCase {
    let general = InstanceTypeFacts(name: "m5.xlarge", vcpus: 4, memoryMiB: 16384, architecture: "x86_64")
    let gpu = InstanceTypeFacts(name: "g4dn.xlarge", vcpus: 4, memoryMiB: 16384, gpus: [GPUFacts(count: 1, model: "T4")],
                                architecture: "x86_64")

    private func reason(_ requirements: ResourceRequirements, rules: [String: Int] = ["m5.xlarge": 2], enabled: Bool = true,
                        facts: [InstanceTypeFacts]? = nil) -> String? {
        let known = facts ?? [general]
        return SubmissionFit.reason(for: requirements, rules: rules, enabled: enabled,
                                    facts: Dictionary(uniqueKeysWithValues: known.map { ($0.name, $0) }))
    }

    func testARunAnAllowedTypeFitsIsAccepted() {
        XCTAssertNil(reason(ResourceRequirements()))
        XCTAssertNil(reason(ResourceRequirements(cpus: 4, memoryMiB: 16384)))
        XCTAssertNil(reason(ResourceRequirements(instanceType: "m5.xlarge")))
        XCTAssertNil(reason(ResourceRequirements(memoryMiB: 1024, diskGB: 2000)), "the disk is sized at launch")
    }

    func testTooMuchMemoryIsRefusedWithThePlannersWords() {
        XCTAssertEqual(reason(ResourceRequirements(memoryMiB: 9999 * 1024)), "no allowed instance type has 9999 GB memory")
        let planned = Planner.plan(PlannerInput(rules: ["m5.xlarge": 2], pendingRuns: [PlannerRun(id: "r", requirements:
            ResourceRequirements(memoryMiB: 9999 * 1024))], facts: ["m5.xlarge": general]))
        XCTAssertEqual(planned.waiting["r"], reason(ResourceRequirements(memoryMiB: 9999 * 1024)))
    }

    func testAGPUWithOnlyNonGPURulesIsRefused() {
        XCTAssertEqual(reason(ResourceRequirements(gpus: 1)), "no allowed instance type has 1 GPU")
        XCTAssertNil(reason(ResourceRequirements(gpus: 1), rules: ["m5.xlarge": 2, "g4dn.xlarge": 1], facts: [general, gpu]))
    }

    func testAnExplicitTypeNoRuleAllowsIsRefused() {
        XCTAssertEqual(reason(ResourceRequirements(instanceType: "p3.2xlarge")),
                       "no rule allows p3.2xlarge; run 'dstack autoscale allow p3.2xlarge --max N'")
    }

    func testNoRulesOrAutoscalingDisabledIsRefused() {
        XCTAssertEqual(reason(ResourceRequirements(), rules: [:]), "no autoscale rules; run 'dstack autoscale allow INSTANCE_TYPE --max N'")
        XCTAssertEqual(reason(ResourceRequirements(), enabled: false), "autoscaling is disabled; run 'dstack autoscale enable'")
    }

    func testATypeWhoseFactsAreUnknownMayFit() {
        XCTAssertNil(reason(ResourceRequirements(memoryMiB: 9999 * 1024), rules: ["m5.xlarge": 2, "mystery": 1]),
                     "the provider could not describe 'mystery' just now: the run may fit it, so it is queued")
    }
}
