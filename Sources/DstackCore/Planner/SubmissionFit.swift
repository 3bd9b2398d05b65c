/// Whether a run can ever start under the rules as they are, decided when it is
/// submitted so that an impossible run fails at once instead of waiting forever. The
/// same words as the planner's waiting reason, from the same functions, so `dstack run`
/// and `dstack ps` never disagree about why.
public enum SubmissionFit {
    /// nil when an allowed type fits (or may fit: a type whose facts the provider could
    /// not give is given the benefit of the doubt); else the reason nothing ever will.
    public static func reason(for requirements: ResourceRequirements, rules: [String: Int], enabled: Bool,
                              facts: [String: InstanceTypeFacts]) -> String? {
        let input = PlannerInput(rules: rules, enabled: enabled, facts: facts)
        let limits = enabled ? rules.filter { $0.value > 0 } : [:]
        if !Planner.candidateTypes(for: requirements, limits: limits, facts: facts).isEmpty { return nil }
        if requirements.instanceType == nil, limits.keys.contains(where: { facts[$0] == nil }) { return nil }
        return Planner.noCandidateReason(requirements, input: input, limits: limits)
    }
}
