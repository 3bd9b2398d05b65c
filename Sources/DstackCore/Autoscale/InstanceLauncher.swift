import Foundation

/// Launches instances by hand (`dstack instances request`, e.g. to warm runners up
/// before a batch of runs), within the rules: the type needs a rule, autoscaling must be
/// enabled, and the launch may not take the type past its max. It is a launch batch
/// like the server's own: journaled with its idempotency token and the hash of its
/// registration token before the provider is called, booting runners that register
/// with the server that `delivery` describes and then take work like any other.
public struct InstanceLauncher {
    public let workspace: Workspace
    public var delivery: RunnerDelivery

    public init(workspace: Workspace, delivery: RunnerDelivery) {
        self.workspace = workspace
        self.delivery = delivery
    }

    public func request(instanceType: String, count: Int) async throws -> SpotLaunch {
        precondition(count > 0, "callers validate count")
        let active = try workspace.activeProvider()
        let state = try workspace.state()
        let (rule, enabled) = try state.read { tx in (try tx.rule(for: instanceType), try tx.isEnabled()) }
        guard enabled else { throw LaunchError.disabled }
        guard let rule else { throw LaunchError.noRule(instanceType) }
        let live = try await AutoscaleService(workspace: workspace).listManaged(active)
            .filter { $0.instanceType == instanceType && $0.state.isLive }.count
        // Subtracted, not added: a count near Int.max must be refused, not overflow.
        guard count <= rule.max - live else {
            throw LaunchError.atMax(instanceType: instanceType, max: rule.max, live: live)
        }

        let token = "dstack-\(SecureRandom.hex(16))"
        let registration = SecureRandom.hex(32)
        let settings = try workspace.configuration().providers[active.vendor] ?? [:]
        let architecture = active.plugin.instancesRunOnThisMachine ? nil
            : try await active.provider.validateInstanceType(instanceType).architecture
        // Instances that could not reach the server or get a runner are not launched.
        let bootstrap = try delivery.bootstrap(plugin: active.plugin, settings: settings, architecture: architecture,
                                               registrationToken: registration).get()
        try state.write {
            try $0.journalBatch(token: token, vendor: active.vendor, instanceType: instanceType, count: count,
                                registrationHash: TokenHash.sha256Hex(registration))
        }
        do {
            let launch = try await active.provider.requestSpot(
                SpotRequest(instanceType: instanceType, count: count, userData: bootstrap.render(), idempotencyToken: token))
            try state.write { tx in
                try tx.markLaunchSent(token: token, spotRequestIDs: launch.spotRequestIDs)
                try tx.recordInstances(launch.instances, vendor: active.vendor, launchToken: token)
            }
            return launch
        } catch {
            try? state.write { tx in
                try tx.markLaunchFailed(token: token, error: String(describing: error))
                try tx.closeBatch(token: token)
            }
            throw error
        }
    }
}

public enum LaunchError: Error, Equatable, CustomStringConvertible {
    case disabled
    case noRule(String)
    case atMax(instanceType: String, max: Int, live: Int)
    case unknownInstance(String)

    public var description: String {
        switch self {
        case .disabled:
            return "autoscaling is disabled; run 'dstack autoscale enable' first"
        case .noRule(let type):
            return "no rule allows \(type); run 'dstack autoscale allow \(type) --max N' first"
        case .atMax(let type, let max, let live):
            return "\(type) is at its max of \(max) (\(live) running or pending)"
        case .unknownInstance(let id):
            return "no managed instance '\(id)'; see 'dstack instances'"
        }
    }
}
