import DstackCore
import Foundation

// dstack-benchmarks planner [REPETITIONS] [INSTANCES] [RUNS,RUNS,...]
//
// Times `Planner.plan` (one reconcile's planning) on synthetic worlds of 10k instances
// and 1k, 10k and 100k pending runs. The world is a deterministic, realistic mix:
//   - 9 allowed types with facts (general purpose, compute, memory, one GPU type), each
//     with a max, and one type that no rule allows any more (its instances are terminated);
//   - instances: 60% busy, 25% idle (most recently, some past the idle timeout),
//     15% still provisioning;
//   - runs: 35% name an explicit type, 65% give cpu/memory (some a GPU) requirements,
//     from 14 distinct requirement shapes.
// Building the input is not timed. Reports the median (and min/max) of REPETITIONS
// plans after one warm-up, per run and per (run + instance).

struct PlannerWorld {
    static let facts: [InstanceTypeFacts] = [
        InstanceTypeFacts(name: "m5.large", vcpus: 2, memoryMiB: 8192, architecture: "x86_64"),
        InstanceTypeFacts(name: "m5.xlarge", vcpus: 4, memoryMiB: 16384, architecture: "x86_64"),
        InstanceTypeFacts(name: "m5.2xlarge", vcpus: 8, memoryMiB: 32768, architecture: "x86_64"),
        InstanceTypeFacts(name: "m5.4xlarge", vcpus: 16, memoryMiB: 65536, architecture: "x86_64"),
        InstanceTypeFacts(name: "c5.xlarge", vcpus: 4, memoryMiB: 8192, architecture: "x86_64"),
        InstanceTypeFacts(name: "c5.4xlarge", vcpus: 16, memoryMiB: 32768, architecture: "x86_64"),
        InstanceTypeFacts(name: "r5.xlarge", vcpus: 4, memoryMiB: 32768, architecture: "x86_64"),
        InstanceTypeFacts(name: "r5.4xlarge", vcpus: 16, memoryMiB: 131072, architecture: "x86_64"),
        InstanceTypeFacts(name: "g4dn.xlarge", vcpus: 4, memoryMiB: 16384, gpus: [GPUFacts(count: 1, model: "T4", memoryMiB: 16384)],
                          architecture: "x86_64"),
    ]
    static let requirementShapes: [ResourceRequirements] = [
        ResourceRequirements(cpus: 1),
        ResourceRequirements(cpus: 2),
        ResourceRequirements(cpus: 4),
        ResourceRequirements(cpus: 8),
        ResourceRequirements(cpus: 16),
        ResourceRequirements(memoryMiB: 4096),
        ResourceRequirements(memoryMiB: 16384),
        ResourceRequirements(memoryMiB: 65536),
        ResourceRequirements(cpus: 4, memoryMiB: 16384),
        ResourceRequirements(cpus: 8, memoryMiB: 32768),
        ResourceRequirements(cpus: 16, memoryMiB: 131072),
        ResourceRequirements(gpus: 1),
        ResourceRequirements(cpus: 4, memoryMiB: 8192, gpus: 1),
        ResourceRequirements(cpus: 64), // fits nothing: waits with a reason
    ]

    /// Deterministic xorshift, so every run of the benchmark plans the same world.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    static func make(runs: Int, instances: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> PlannerInput {
        var rng = Generator(state: seed)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        // Maxes add up to 1.3× the instances: some types are full, others have room to launch.
        var rules: [String: Int] = [:]
        for (index, type) in facts.enumerated() { rules[type.name] = instances * (index % 3 == 0 ? 20 : 12) / 100 }
        let types = facts.map(\.name) + ["t3.medium"] // the last one: no rule allows it any more

        var fleet: [PlannerInstance] = []
        fleet.reserveCapacity(instances)
        for index in 0..<instances {
            let type = index % 50 == 0 ? "t3.medium" : types[Int.random(in: 0..<facts.count, using: &rng)]
            let roll = Int.random(in: 0..<100, using: &rng)
            let phase: PlannerInstance.Phase
            if roll < 60 {
                phase = .busy(runID: "busy-\(index)")
            } else if roll < 85 {
                // Most idle for under a minute; one in ten past the 5-minute idle timeout.
                let idleFor = roll < 83 ? Double.random(in: 0...60, using: &rng) : Double.random(in: 300...900, using: &rng)
                phase = .idle(since: now.addingTimeInterval(-idleFor))
            } else {
                phase = .provisioning
            }
            fleet.append(PlannerInstance(id: String(format: "i-%017x", index), instanceType: type, phase: phase,
                                         launchedAt: now.addingTimeInterval(-Double.random(in: 0...86_400, using: &rng))))
        }
        var pending: [PlannerRun] = []
        pending.reserveCapacity(runs)
        for index in 0..<runs {
            let requirements = Int.random(in: 0..<100, using: &rng) < 35
                ? ResourceRequirements(instanceType: facts[Int.random(in: 0..<facts.count, using: &rng)].name)
                : requirementShapes[Int.random(in: 0..<requirementShapes.count, using: &rng)]
            pending.append(PlannerRun(id: "run-\(String(format: "%08x", index))", requirements: requirements))
        }
        return PlannerInput(rules: rules, enabled: true, pendingRuns: pending, instances: fleet,
                            facts: Dictionary(uniqueKeysWithValues: facts.map { ($0.name, $0) }),
                            unavailableTypes: ["c5.xlarge"], now: now, idleTimeout: 300)
    }
}

func benchmarkPlanner(repetitions: Int, instances: Int, runCounts: [Int]) {
    print("planner: \(instances) instances, median of \(repetitions) plans after a warm-up (input building not timed)")
    print("    runs   median ms   min ms   max ms   µs per run   µs per (run+instance)   assigned  launched  waiting  terminated")
    var medians: [(runs: Int, ms: Double)] = []
    for runs in runCounts {
        let input = PlannerWorld.make(runs: runs, instances: instances)
        var plan = Planner.plan(input) // warm-up
        var times: [Double] = []
        for _ in 0..<repetitions {
            let start = monotonicNanoseconds()
            plan = Planner.plan(input)
            times.append(ms(monotonicNanoseconds() - start))
        }
        let m = median(times)
        medians.append((runs, m))
        let launched = plan.launches.reduce(0) { $0 + $1.count }
        print(String(format: "%8d   %9.2f   %6.2f   %6.2f   %10.3f   %21.3f   %8d  %8d  %7d  %10d",
                     runs, m, times.min()!, times.max()!, m * 1000 / Double(runs), m * 1000 / Double(runs + instances),
                     plan.assignments.count, launched, plan.waiting.count, plan.terminations.count))
    }
    // The instances cost the same at every size, so growth in runs shows in the marginal
    // cost of each extra run between sizes: constant when the planner is linear in runs.
    for (a, b) in zip(medians, medians.dropFirst()) {
        print(String(format: "%d → %d runs: +%.2f ms for +%d runs = %.3f µs per extra run",
                     a.runs, b.runs, b.ms - a.ms, b.runs - a.runs, (b.ms - a.ms) * 1000 / Double(b.runs - a.runs)))
    }
}
