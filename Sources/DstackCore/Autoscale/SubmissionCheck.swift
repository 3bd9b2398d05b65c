import Foundation

extension Workspace {
    /// Why a run with these requirements could never start under the current rules, or
    /// nil when it can. Reads the rules from state and asks `facts` (by default the active
    /// provider; the server passes its offerings cache) for the facts of each allowed type
    /// (what `dstack autoscale allow` validated); a type that cannot be described right
    /// now counts as possibly fitting.
    public func reasonNothingFits(_ requirements: ResourceRequirements,
                                  facts factsOf: ((String) async throws -> InstanceTypeFacts)? = nil) async throws -> String? {
        let (rules, enabled) = try state().read { tx in (try tx.rules(), try tx.isEnabled()) }
        let limits = Dictionary(rules.map { ($0.instanceType, $0.max) }, uniquingKeysWith: { _, last in last })
        var facts: [String: InstanceTypeFacts] = [:]
        let needsFacts = enabled && requirements.instanceType == nil && limits.contains { $0.value > 0 }
        if needsFacts {
            let provider = factsOf == nil ? try? activeProvider().provider : nil
            for (type, max) in limits where max > 0 {
                if let factsOf {
                    if let known = try? await factsOf(type) { facts[type] = known }
                } else if let provider, let known = try? await provider.validateInstanceType(type) {
                    facts[type] = known
                }
            }
        }
        return SubmissionFit.reason(for: requirements, rules: limits, enabled: enabled, facts: facts)
    }
}
