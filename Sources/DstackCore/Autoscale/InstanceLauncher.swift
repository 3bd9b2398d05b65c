import Foundation

/// Launches instances by hand (`dstack instances request`), within the rules: the type
/// needs a rule, autoscaling must be enabled, and the launch may not take the type past
/// its max. The intent is journaled with its idempotency token before the provider is
/// called, so a crash in between can be retried without doubling instances.
public struct InstanceLauncher {
    public let workspace: Workspace
    public var bootstrap: RunnerBootstrap

    public init(workspace: Workspace, bootstrap: RunnerBootstrap = RunnerBootstrap()) {
        self.workspace = workspace
        self.bootstrap = bootstrap
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
        guard live + count <= rule.max else {
            throw LaunchError.atMax(instanceType: instanceType, max: rule.max, live: live)
        }

        let token = "dstack-\(SecureRandom.hex(16))"
        try state.write { try $0.journalLaunchIntent(token: token, vendor: active.vendor, instanceType: instanceType, count: count) }
        do {
            let launch = try await active.provider.requestSpot(
                SpotRequest(instanceType: instanceType, count: count, userData: bootstrap.render(), idempotencyToken: token))
            try state.write { tx in
                try tx.markLaunchSent(token: token, spotRequestIDs: launch.spotRequestIDs)
                try tx.recordInstances(launch.instances, vendor: active.vendor, launchToken: token)
            }
            return launch
        } catch {
            try? state.write { try $0.markLaunchFailed(token: token, error: String(describing: error)) }
            throw error
        }
    }
}

public enum LaunchError: Error, Equatable, CustomStringConvertible {
    case disabled
    case noRule(String)
    case atMax(instanceType: String, max: Int, live: Int)

    public var description: String {
        switch self {
        case .disabled:
            return "autoscaling is disabled; run 'dstack autoscale enable' first"
        case .noRule(let type):
            return "no rule allows \(type); run 'dstack autoscale allow \(type) --max N' first"
        case .atMax(let type, let max, let live):
            return "\(type) is at its max of \(max) (\(live) running or pending)"
        }
    }
}
