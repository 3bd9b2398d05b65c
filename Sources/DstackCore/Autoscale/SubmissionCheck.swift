import Foundation

extension Workspace {
    /// Why a run with these requirements could never start under the current rules, or
    /// nil when it can. Reads the rules from state and asks the active provider for the
    /// facts of each allowed type (what `dstack autoscale allow` validated); a type the
    /// provider cannot describe right now counts as possibly fitting.
    public func reasonNothingFits(_ requirements: ResourceRequirements) async throws -> String? {
        let (rules, enabled) = try state().read { tx in (try tx.rules(), try tx.isEnabled()) }
        let limits = Dictionary(rules.map { ($0.instanceType, $0.max) }, uniquingKeysWith: { _, last in last })
        var facts: [String: InstanceTypeFacts] = [:]
        let needsFacts = enabled && requirements.instanceType == nil && limits.contains { $0.value > 0 }
        if needsFacts, let provider = try? activeProvider().provider {
            for (type, max) in limits where max > 0 {
                if let known = try? await provider.validateInstanceType(type) { facts[type] = known }
            }
        }
        return SubmissionFit.reason(for: requirements, rules: limits, enabled: enabled, facts: facts)
    }
}
