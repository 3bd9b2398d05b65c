import DstackAPI
import DstackCore
import Foundation

extension ControlPlane {
    /// Adds, replaces or (max 0) removes a rule. The provider validates the type first
    /// (from the offerings cache); a lowered max is carried out by a pass before this returns.
    func allow(instanceType: String, max: Int, onRebalance: String? = nil) async throws -> AllowReply {
        guard max >= 0 else { throw APIRequestError.badRequest("max must be a whole number of 0 or more, got \(max)") }
        let policy = try onRebalance.map { text -> RebalancePolicy in
            guard let policy = RebalancePolicy(rawValue: text) else {
                throw APIRequestError.badRequest("on_rebalance must be ignore, drain or replace, not '\(text)'")
            }
            return policy
        }
        guard !instanceType.isEmpty, !instanceType.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw APIRequestError.badRequest("the instance type must be a non-empty name without spaces")
        }
        let active = try workspace.activeProvider()
        if max > 0 {
            let facts = try await offerings.facts(vendor: active.vendor, instanceType: instanceType, provider: active.provider)
            // An instance whose architecture has no runner would boot only to bill.
            let settings = try workspace.configuration().providers[active.vendor] ?? [:]
            let architectures = RunnerBinaries.architectures(in: RunnerBinaries.executableDirectory)
            if !active.plugin.instancesRunOnThisMachine, active.plugin.runnerDownloadURL(settings) == nil,
               !architectures.contains(facts.architecture) {
                throw RunnerDeliveryError("\(instanceType) is an \(facts.architecture) type, and "
                    + RunnerDelivery.noRunnerReason(facts.architecture, vendor: active.vendor))
            }
        }
        let before = try fleet()
        let mark = passes.mark()
        let previous = try await BlockingWork.run { [workspace] in
            try workspace.state().write { tx in
                let previous = try tx.setRule(instanceType, max: max)
                if max > 0, let policy { try tx.setRebalancePolicy(policy, for: instanceType) }
                return previous
            }
        }
        var shutdown = ShutdownReport()
        if max < previous {
            shutdown = shutdownReport(await passNow(), since: mark, before: before) { $0.instanceType == instanceType }
        } else {
            loop.wake()
        }
        return AllowReply(instanceType: instanceType, previousMax: previous, newMax: max, shutdown: shutdown)
    }

    /// The rules with the live instances of each type, as the cloud lists them now.
    func autoscaleInfo() async throws -> AutoscaleInfo {
        let (rules, enabled, policies) = try await BlockingWork.run { [workspace] in
            try workspace.state().read { tx in
                let rules = try tx.rules()
                return (rules, try tx.isEnabled(), try rules.map { try tx.rebalancePolicy(for: $0.instanceType).rawValue })
            }
        }
        let vendor = try workspace.activeVendor()
        var counts: [String: Int] = [:]
        if vendor != nil {
            let active = try workspace.activeProvider()
            counts = AutoscaleService.liveCounts(try await AutoscaleService(workspace: workspace).listManaged(active))
        }
        var placements: [String: (price: Double?, zone: String?)] = [:]
        if vendor != nil, let active = try? workspace.activeProvider() {
            let cooled = try await BlockingWork.run { [workspace] in try workspace.state().read { try $0.offeringCooldowns() } }
            for rule in rules {
                guard let facts = try? await offerings.facts(vendor: active.vendor, instanceType: rule.instanceType,
                                                             provider: active.provider) else { continue }
                let zone = Reconciler.rankedZones(facts, cooled: cooled).first
                placements[rule.instanceType] = (zone.flatMap { facts.spotPricesByZone[$0] } ?? facts.spotPricePerHour, zone)
            }
        }
        let now = Date()
        let spend = try await BlockingWork.run { [workspace] in
            try workspace.state().read { try CostLedger.ruleSpend(rules.map(\.instanceType), tx: $0, now: now) }
        }
        return AutoscaleInfo(enabled: enabled, provider: vendor, rules: zip(rules, policies).map { rule, policy in
            RuleStatus(instanceType: rule.instanceType, max: rule.max, instances: counts[rule.instanceType] ?? 0, onRebalance: policy,
                       spotPrice: placements[rule.instanceType]?.price, zone: placements[rule.instanceType]?.zone,
                       spendTodayDollars: spend[rule.instanceType]?.today?.decimalText,
                       spendLast30DaysDollars: spend[rule.instanceType]?.last30Days?.decimalText)
        })
    }

    /// Deletes every rule; the pass that follows shuts every instance down.
    func clear() async throws -> ClearReply {
        _ = try workspace.configuration() // a broken configuration changes nothing
        let before = try fleet()
        let mark = passes.mark()
        let removed = try await BlockingWork.run { [workspace] in try workspace.state().write { try $0.removeAllRules() } }
        let shutdown = try workspace.activeVendor() == nil ? ShutdownReport()
            : shutdownReport(await passNow(), since: mark, before: before) { _ in true }
        return ClearReply(removedRules: removed, shutdown: shutdown)
    }

    /// Pauses autoscaling, keeping the rules; the pass that follows shuts every instance down.
    func setEnabled(_ enabled: Bool) async throws -> ToggleReply {
        _ = try workspace.configuration()
        let before = try fleet()
        let mark = passes.mark()
        let changed = try await BlockingWork.run { [workspace] in try workspace.state().write { try $0.setEnabled(enabled) } }
        if try enabled || workspace.activeVendor() == nil {
            loop.wake()
            return ToggleReply(changed: changed, shutdown: ShutdownReport())
        }
        return ToggleReply(changed: changed, shutdown: shutdownReport(await passNow(), since: mark, before: before) { _ in true })
    }
}

/// A request the API refuses, with its status and one sentence.
enum APIRequestError: Error, CustomStringConvertible {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    /// The run names a code archive the server does not have: upload it, then submit again.
    case codeMissing(String)
    /// The cloud failed; the server keeps trying.
    case unavailable(String)
    /// A body whose Content-Type the route does not take.
    case unsupportedMediaType(String)

    var status: Int {
        switch self {
        case .badRequest: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .codeMissing: return APIPaths.codeMissingStatus
        case .unavailable: return 503
        case .unsupportedMediaType: return 415
        }
    }

    var description: String {
        switch self {
        case .badRequest(let s), .unauthorized(let s), .forbidden(let s), .notFound(let s), .conflict(let s), .codeMissing(let s),
             .unavailable(let s), .unsupportedMediaType(let s):
            return s
        }
    }
}
