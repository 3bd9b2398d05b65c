import DstackAPI
import DstackCore
import Foundation

extension ControlPlane {
    /// Every instance this installation manages, as the cloud lists it, with what state
    /// knows of its runner.
    func instances() async throws -> InstancesReply {
        let active = try workspace.activeProvider()
        let listed = try await AutoscaleService(workspace: workspace).listManaged(active)
            .sorted { ($0.launchTime ?? .distantFuture, $0.id) < ($1.launchTime ?? .distantFuture, $1.id) }
        let fleet = Dictionary(try fleet().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return InstancesReply(provider: active.vendor, instances: listed.map { instance in
            let known = fleet[instance.id]
            return InstanceInfo(id: instance.id, instanceType: instance.instanceType, state: instance.state.rawValue,
                                runnerRegistered: known?.registeredAt != nil,
                                awaitingRunner: known?.registeredAt == nil && instance.state.isLive && !instance.isUnfulfilledRequest,
                                launchTime: instance.launchTime, spotRequestId: instance.spotRequestID, runId: known?.runID,
                                idleSince: known?.idleSince)
        })
    }

    /// A manual launch, within the type's rule. It waits for the reconcile pass in flight
    /// and keeps the next from starting until it is journaled, so the pass counts it and
    /// the two never add up past a max.
    func requestInstances(_ request: InstanceRequest) async throws -> InstanceRequestReply {
        guard request.count > 0 else { throw APIRequestError.badRequest("count must be 1 or more, got \(request.count)") }
        let delivery = reconciler.options.delivery
        let launch = try await reconciler.exclusively {
            try await InstanceLauncher(workspace: self.workspace, delivery: delivery)
                .request(instanceType: request.instanceType, count: request.count)
        }
        loop.wake()
        return InstanceRequestReply(instanceType: request.instanceType, count: request.count,
                                    spotRequestIds: launch.spotRequestIDs,
                                    instanceIds: launch.instances.filter { !$0.isUnfulfilledRequest }.map(\.id))
    }

    /// Terminates instances by ID; the runs they had go back to the queue.
    func terminate(_ ids: [String]) async throws -> TerminateReply {
        guard !ids.isEmpty else { throw APIRequestError.badRequest("name at least one instance ID to terminate") }
        let before = try fleet()
        let outcomes = try await reconciler.exclusively {
            try await AutoscaleService(workspace: self.workspace).terminate(instanceIDs: ids)
        }
        loop.wake()
        return TerminateReply(terminated: outcomes.map { outcome in
            ShutDownInstance(id: outcome.instanceID,
                             instanceType: before.first { $0.id == outcome.instanceID }?.instanceType ?? "",
                             requeuedRun: outcome.requeuedRunID)
        })
    }
}
