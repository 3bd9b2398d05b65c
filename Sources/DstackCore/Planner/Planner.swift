import Foundation

/// Decides what the autoscaler should do, as a pure function of its input: which runs
/// go to which idle instances, how many instances of which type to request, which
/// instances to terminate, and why each remaining run waits. It never takes a type
/// past its max (counting instances still being provisioned), fills idle instances
/// before requesting new ones, and picks the smallest allowed type that fits.
/// Work is near-linear in runs + instances: candidate types are computed once per
/// distinct requirement, and idle instances are kept in per-type stacks.
public enum Planner {
    public static func plan(_ input: PlannerInput) -> Plan {
        var plan = Plan()
        let limits: [String: Int] = input.enabled ? input.rules.filter { $0.value > 0 } : [:]

        // 1. Instances beyond what the rules allow go first: idle, then provisioning, then busy.
        var byType: [String: [PlannerInstance]] = [:]
        for instance in input.instances { byType[instance.instanceType, default: []].append(instance) }
        var survivors: [String: [PlannerInstance]] = [:]
        for type in byType.keys.sorted() {
            let instances = byType[type]!
            let max = limits[type] ?? 0
            guard instances.count > max else {
                survivors[type] = instances
                continue
            }
            let reason: Plan.Termination.Reason = !input.enabled ? .disabled : (input.rules[type] ?? 0) == 0 ? .notAllowed : .overMax
            let ordered = instances.sorted(by: sacrificeOrder)
            for instance in ordered.prefix(instances.count - max) {
                var interrupted: String? = nil
                if case .busy(let runID) = instance.phase { interrupted = runID }
                plan.terminations.append(Plan.Termination(instanceID: instance.id, reason: reason, interruptedRunID: interrupted))
            }
            survivors[type] = Array(ordered.dropFirst(instances.count - max))
        }

        // 2. What is left: idle stacks, unclaimed provisioning, and live counts per type.
        var idle: [String: [PlannerInstance]] = [:]
        var provisioning: [String: Int] = [:]
        var live: [String: Int] = [:]
        for (type, instances) in survivors {
            live[type] = instances.count
            for instance in instances {
                switch instance.phase {
                case .idle: idle[type, default: []].append(instance)
                case .provisioning: provisioning[type, default: 0] += 1
                case .busy: break
                }
            }
        }
        // Longest-idle last, so popLast() reuses the instance that has been idle longest
        // and recently freed ones stay warm for the next run.
        for type in idle.keys {
            idle[type]!.sort { idleSince($0) > idleSince($1) || (idleSince($0) == idleSince($1) && $0.id > $1.id) }
        }

        // 3. Place pending runs, oldest first.
        var candidateCache: [ResourceRequirements: [String]] = [:]
        var launchIndex: [String: Int] = [:]
        for run in input.pendingRuns {
            let candidates = candidateCache[run.requirements] ?? {
                let computed = candidateTypes(for: run.requirements, limits: limits, facts: input.facts)
                candidateCache[run.requirements] = computed
                return computed
            }()
            if candidates.isEmpty {
                plan.waiting[run.id] = noCandidateReason(run.requirements, input: input, limits: limits)
                continue
            }
            if let type = candidates.first(where: { !(idle[$0]?.isEmpty ?? true) }) {
                let instance = idle[type]!.removeLast()
                plan.assignments.append(Plan.Assignment(runID: run.id, instanceID: instance.id))
                continue
            }
            if let type = candidates.first(where: { (provisioning[$0] ?? 0) > 0 }) {
                provisioning[type]! -= 1
                plan.claimedProvisioning[run.id] = type
                plan.waiting[run.id] = "waiting for a \(type) instance to start"
                continue
            }
            let available = candidates.filter { !input.unavailableTypes.contains($0) }
            if let type = available.first(where: { (live[$0] ?? 0) < limits[$0]! }) {
                live[type, default: 0] += 1
                if let index = launchIndex[type] {
                    plan.launches[index].count += 1
                    plan.launches[index].forRuns.append(run.id)
                } else {
                    launchIndex[type] = plan.launches.count
                    plan.launches.append(Plan.Launch(instanceType: type, count: 1, forRuns: [run.id]))
                }
                plan.claimedProvisioning[run.id] = type
                plan.waiting[run.id] = "waiting for a \(type) instance to start"
                continue
            }
            if let full = available.first {
                plan.waiting[run.id] = "\(full) is at its max of \(limits[full]!)"
            } else {
                plan.waiting[run.id] = "\(candidates[0]) has no spot capacity right now; dstack will try again in a few minutes"
            }
        }

        // 4. Idle instances nobody took, idle past the timeout, go.
        for type in idle.keys.sorted() {
            for instance in idle[type]! where input.now.timeIntervalSince(idleSince(instance)) >= input.idleTimeout {
                plan.terminations.append(Plan.Termination(instanceID: instance.id, reason: .idleTimeout, interruptedRunID: nil))
            }
        }
        return plan
    }

    /// Allowed types that fit, smallest (or cheapest, when prices are known) first.
    static func candidateTypes(for requirements: ResourceRequirements, limits: [String: Int],
                               facts: [String: InstanceTypeFacts]) -> [String] {
        if let explicit = requirements.instanceType {
            return limits[explicit] != nil ? [explicit] : []
        }
        let fitting = limits.keys.compactMap { facts[$0] }.filter { requirements.isSatisfied(by: $0) }
        return fitting.sorted(by: smallerFirst).map(\.name)
    }

    static func smallerFirst(_ a: InstanceTypeFacts, _ b: InstanceTypeFacts) -> Bool {
        if let pa = a.spotPricePerHour, let pb = b.spotPricePerHour, pa != pb { return pa < pb }
        return (a.vcpus, a.memoryMiB, a.gpuCount, a.name) < (b.vcpus, b.memoryMiB, b.gpuCount, b.name)
    }

    /// The order in which instances are given up: idle ones, then ones still starting
    /// (newest first), then busy ones (newest first: the least work is lost).
    static func sacrificeOrder(_ a: PlannerInstance, _ b: PlannerInstance) -> Bool {
        func rank(_ i: PlannerInstance) -> Int {
            switch i.phase {
            case .idle: return 0
            case .provisioning: return 1
            case .busy: return 2
            }
        }
        if rank(a) != rank(b) { return rank(a) < rank(b) }
        if a.launchedAt != b.launchedAt { return a.launchedAt > b.launchedAt }
        return a.id > b.id
    }

    static func idleSince(_ instance: PlannerInstance) -> Date {
        if case .idle(let since) = instance.phase { return since }
        return .distantFuture
    }

    static func noCandidateReason(_ requirements: ResourceRequirements, input: PlannerInput, limits: [String: Int]) -> String {
        if !input.enabled { return "autoscaling is disabled; run 'dstack autoscale enable'" }
        if let type = requirements.instanceType {
            return "no rule allows \(type); run 'dstack autoscale allow \(type) --max N'"
        }
        if limits.isEmpty { return "no autoscale rules; run 'dstack autoscale allow INSTANCE_TYPE --max N'" }
        return "no allowed instance type has \(requirements.summary)"
    }
}
