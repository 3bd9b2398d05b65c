import Foundation

/// Decides what the autoscaler should do, as a pure function of its input: which runs
/// go to which idle instances, how many instances of which type to request, which
/// instances to terminate, and why each remaining run waits. It never takes a type
/// past its max (counting instances still being provisioned), fills idle instances
/// before requesting new ones, and picks the smallest allowed type that fits.
/// Work is near-linear in runs + instances: candidate types are computed once per
/// distinct requirement, idle instances are kept in per-type stacks, and the per-run
/// loop reads per-type tables by index instead of hashing type names.
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
        var provisioning: [String: [Int?]] = [:] // the disk of each slot still coming up
        var live: [String: Int] = [:]
        for (type, instances) in survivors {
            live[type] = instances.count
            for instance in instances {
                switch instance.phase {
                case .idle: idle[type, default: []].append(instance)
                case .provisioning: provisioning[type, default: []].append(instance.diskGB)
                case .busy: break
                }
            }
        }
        // Longest-idle last, so popLast() reuses the instance that has been idle longest
        // and recently freed ones stay warm for the next run.
        for type in idle.keys {
            idle[type]!.sort { idleSince($0) > idleSince($1) || (idleSince($0) == idleSince($1) && $0.id > $1.id) }
        }

        // 3. Place pending runs, oldest first. Every candidate type has a rule, so the
        // per-run loop works on small per-type tables indexed by position in `typeNames`
        // (array reads, no string hashing), and each distinct requirement's candidates,
        // available candidates and no-candidate reason are computed once.
        let typeNames = limits.keys.sorted()
        var typeIndex: [String: Int] = [:]
        for (index, type) in typeNames.enumerated() { typeIndex[type] = index }
        var idleStacks = typeNames.map { idle[$0] ?? [] }
        var provisioningLeft = typeNames.map { provisioning[$0] ?? [] }
        var liveCount = typeNames.map { live[$0] ?? 0 }
        let limitOf = typeNames.map { limits[$0]! }
        let startingReason = typeNames.map { "waiting for \(indefiniteArticle(for: $0)) \($0) instance to start" }
        var atMaxReason: [String?] = Array(repeating: nil, count: typeNames.count)
        var noCapacityReason: [String?] = Array(repeating: nil, count: typeNames.count)
        var launchIndex: [Int?] = Array(repeating: nil, count: typeNames.count)

        struct Candidates {
            var all: [Int]
            var available: [Int]
            var noCandidateReason: String?
        }
        var candidateCache: [ResourceRequirements: Candidates] = [:]
        plan.waiting.reserveCapacity(input.pendingRuns.count)
        for run in input.pendingRuns {
            let candidates = candidateCache[run.requirements] ?? {
                let all = candidateTypes(for: run.requirements, limits: limits, facts: input.facts).map { typeIndex[$0]! }
                let computed = Candidates(
                    all: all,
                    available: all.filter { !input.unavailableTypes.contains(typeNames[$0]) },
                    noCandidateReason: all.isEmpty ? noCandidateReason(run.requirements, input: input, limits: limits) : nil)
                candidateCache[run.requirements] = computed
                return computed
            }()
            if let reason = candidates.noCandidateReason {
                plan.waiting[run.id] = reason
                continue
            }
            // A run that asks for a disk goes only where that disk is; others take the
            // longest-idle instance and any slot still coming up, as before.
            let disk = run.requirements.diskGB
            if disk == nil, let type = candidates.all.first(where: { !idleStacks[$0].isEmpty }) {
                let instance = idleStacks[type].removeLast()
                plan.assignments.append(Plan.Assignment(runID: run.id, instanceID: instance.id))
                continue
            }
            if disk != nil, let (type, index) = candidates.all.lazy.compactMap({ type in
                idleStacks[type].lastIndex { PlannerInstance.disk($0.diskGB, fits: disk) }.map { (type, $0) }
            }).first {
                let instance = idleStacks[type].remove(at: index)
                plan.assignments.append(Plan.Assignment(runID: run.id, instanceID: instance.id))
                continue
            }
            if let (type, index) = candidates.all.lazy.compactMap({ type in
                (disk == nil ? provisioningLeft[type].indices.last
                    : provisioningLeft[type].lastIndex { PlannerInstance.disk($0, fits: disk) }).map { (type, $0) }
            }).first {
                provisioningLeft[type].remove(at: index)
                plan.claimedProvisioning[run.id] = typeNames[type]
                plan.waiting[run.id] = startingReason[type]
                continue
            }
            if let type = candidates.available.first(where: { liveCount[$0] < limitOf[$0] }) {
                liveCount[type] += 1
                if let index = launchIndex[type] {
                    plan.launches[index].count += 1
                    plan.launches[index].forRuns.append(run.id)
                } else {
                    launchIndex[type] = plan.launches.count
                    plan.launches.append(Plan.Launch(instanceType: typeNames[type], count: 1, forRuns: [run.id]))
                }
                plan.claimedProvisioning[run.id] = typeNames[type]
                plan.waiting[run.id] = startingReason[type]
                continue
            }
            if let full = candidates.available.first {
                if atMaxReason[full] == nil { atMaxReason[full] = "\(typeNames[full]) is at its max of \(limitOf[full])" }
                plan.waiting[run.id] = atMaxReason[full]!
            } else {
                let first = candidates.all[0]
                if noCapacityReason[first] == nil {
                    noCapacityReason[first] = "\(typeNames[first]) has no spot capacity right now; dstack will try again in a few minutes"
                }
                plan.waiting[run.id] = noCapacityReason[first]!
            }
        }
        for (index, type) in typeNames.enumerated() where idle[type] != nil { idle[type] = idleStacks[index] }

        // 3b. Manual requests, after the runs, each all or nothing within its type's max
        // (counting what is live and what this plan launches).
        for request in input.instanceRequests {
            guard input.enabled else {
                plan.refusedRequests[request.id] = "autoscaling is disabled; run 'dstack autoscale enable' first"
                continue
            }
            guard let index = typeIndex[request.instanceType] else {
                plan.refusedRequests[request.id] = "no rule allows \(request.instanceType); run 'dstack autoscale allow \(request.instanceType) --max N' first"
                continue
            }
            // Subtracted, not added: a count near Int.max must not overflow the check.
            guard request.count <= limitOf[index] - liveCount[index] else {
                plan.refusedRequests[request.id] = "\(request.instanceType) is at its max of \(limitOf[index]) (\(liveCount[index]) running or pending)"
                continue
            }
            liveCount[index] += request.count
            plan.launches.append(Plan.Launch(instanceType: request.instanceType, count: request.count, forRuns: [],
                                             forRequest: request.id))
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

    /// "an" before a name that starts with a vowel sound, else "a". A word (local) goes
    /// by its first letter, a e i o u; a letter before a digit (m5.xlarge, c6i.large) is
    /// read by the letter's name, so "an m5" (em-five) but "a c5" (see-five).
    static func indefiniteArticle(for name: String) -> String {
        let letters = Array(name.lowercased())
        guard let first = letters.first else { return "a" }
        if letters.count > 1, letters[1].isNumber { return "aefhilmnorsx".contains(first) ? "an" : "a" }
        return "aeiou".contains(first) ? "an" : "a"
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
