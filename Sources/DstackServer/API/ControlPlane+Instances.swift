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

    /// A manual launch: a request the next reconcile pass carries out within the type's
    /// max, as it does the launches for runs, so that the two never add up past a max.
    /// It answers once that pass has launched (or refused) it.
    func requestInstances(_ request: InstanceRequest) async throws -> InstanceRequestReply {
        guard request.count > 0 else { throw APIRequestError.badRequest("count must be 1 or more, got \(request.count)") }
        guard !request.instanceType.isEmpty, !request.instanceType.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw APIRequestError.badRequest("the instance type must be a non-empty name without spaces")
        }
        _ = try workspace.activeProvider() // none configured: say so before anything is stored
        let id = "req-\(SecureRandom.hex(8))"
        try await BlockingWork.run { [workspace] in
            try workspace.state().write { try $0.addInstanceRequest(id: id, instanceType: request.instanceType, count: request.count) }
        }
        let pass = await passNow()
        let (record, instances, spotRequests) = try await BlockingWork.run { [workspace] () -> (InstanceRequestRecord?, [String], [String]) in
            try workspace.state().read { tx in
                let record = try tx.instanceRequest(id)
                guard let token = record?.launchToken else { return (record, [], []) }
                let vendor = try workspace.activeVendor() ?? ""
                return (record, try tx.fleet(vendor: vendor).filter { $0.launchToken == token }.map(\.id).sorted(),
                        try tx.launchSpotRequests(token: token))
            }
        }
        switch record?.status {
        case .launched?:
            return InstanceRequestReply(instanceType: request.instanceType, count: request.count,
                                        spotRequestIds: spotRequests, instanceIds: instances)
        case .refused?:
            throw APIRequestError.conflict(record?.reason ?? "the request was refused")
        default:
            if case .failure(let error) = pass {
                throw APIRequestError.unavailable("the launch is not sent yet: \(Self.sentence(error)); the dstack server keeps trying")
            }
            throw APIRequestError.unavailable("the launch is not sent yet; the dstack server keeps trying")
        }
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
