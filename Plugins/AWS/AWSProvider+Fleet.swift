import DstackProvider
import Foundation

/// Listing and terminating: batched, paginated, never one call per instance.
extension AWSProvider {
    /// Spot requests: one paginated DescribeSpotInstanceRequests filtered to live states,
    /// kept when in dstack's group or recorded in state (moto, and a request whose group
    /// EC2 reports late, need the IDs). Instances: one paginated DescribeInstances
    /// filtered by dstack's group, plus one by-ID call for instances the requests or
    /// state name that the group filter did not return.
    func listAll(known: KnownResources) async throws -> [ManagedInstance] {
        let group = try await existingSecurityGroup()
        let knownRequests = Set(known.spotRequestIDs)
        var requests: [String: EC2SpotRequest] = [:]
        try await client.paginate("DescribeSpotInstanceRequests",
                                  EC2Params.filters([("state", ["open", "active", "disabled"])]), pageSize: 1000) { page in
            for request in page.items("spotInstanceRequestSet").map(EC2SpotRequest.init)
            where knownRequests.contains(request.id) || group.map(request.groupIDs.contains) == true {
                requests[request.id] = request
            }
        }

        var instances: [String: EC2Instance] = [:]
        if let group {
            try await client.paginate("DescribeInstances", EC2Params.filters([("instance.group-id", [group])]),
                                      pageSize: 1000) { page in
                for instance in EC2Instance.all(in: page) { instances[instance.id] = instance }
            }
        }
        let wanted = Set(requests.values.compactMap(\.instanceID) + known.instanceIDs).subtracting(instances.keys)
        for batch in Self.chunks(wanted.sorted()) {
            try await withoutMissing(batch, prefixes: ["i-"]) { ids in
                let reply = try await self.client.call("DescribeInstances", EC2Params.list("InstanceId", ids))
                for instance in EC2Instance.all(in: reply) { instances[instance.id] = instance }
            }
        }

        // EC2 usually fulfils a spot request after RequestSpotInstances returns, so IMDSv2 is
        // required here for instances that came up since: once per instance, when allowed.
        await requireIMDSv2IfAllowed(instances.values
            .filter { $0.httpTokens == "optional" && ($0.state == .pending || $0.state == .running) }.map(\.id).sorted())

        var requestOfInstance: [String: String] = [:]
        for request in requests.values { if let id = request.instanceID { requestOfInstance[id] = request.id } }
        var listed = instances.values.map { instance in
            let requestID = instance.spotRequestID ?? requestOfInstance[instance.id]
            let status = requestID.flatMap { requests[$0]?.statusCode }
            return ManagedInstance(id: instance.id, instanceType: instance.instanceType, state: instance.state,
                                   launchTime: instance.launchTime, spotRequestID: requestID, spotRequestStatus: status,
                                   extras: instance.extras, availabilityZone: instance.extras["availability_zone"],
                                   interruptionSignal: EC2SpotSignals.signal(requestStatus: status, stateReason: instance.stateReason))
        }
        for request in requests.values {
            if let instanceID = request.instanceID {
                // Fulfilled, but DescribeInstances does not show the instance yet (eventual consistency).
                if instances[instanceID] == nil {
                    listed.append(ManagedInstance(id: instanceID, instanceType: request.instanceType, state: .pending,
                                                  launchTime: request.createTime, spotRequestID: request.id))
                }
            } else if request.state == "open" {
                var open = ManagedInstance(id: request.id, instanceType: request.instanceType, state: .pending,
                                           launchTime: request.createTime, spotRequestID: request.id,
                                           isUnfulfilledRequest: true, spotRequestStatus: request.statusCode,
                                           extras: request.statusCode.map { ["spot_status": $0] } ?? [:],
                                           availabilityZone: request.availabilityZone)
                open.requestHold = EC2SpotSignals.hold(request.statusCode)
                listed.append(open)
            }
        }
        return listed.sorted { ($0.launchTime ?? .distantPast, $0.id) < ($1.launchTime ?? .distantPast, $1.id) }
    }

    /// Cancels the spot requests first (so none launches a replacement), then terminates
    /// the instances, including any a request launched that the caller did not name.
    /// Batches of up to 1000 IDs; IDs already gone are skipped, not errors.
    func terminateAll(_ target: TerminationTarget) async throws {
        var instanceIDs = Set(target.instanceIDs)
        for batch in Self.chunks(Array(Set(target.spotRequestIDs)).sorted()) {
            var live: [EC2SpotRequest] = []
            try await withoutMissing(batch, prefixes: ["sir-"]) { ids in
                let reply = try await self.client.call("DescribeSpotInstanceRequests", EC2Params.list("SpotInstanceRequestId", ids))
                live = reply.items("spotInstanceRequestSet").map(EC2SpotRequest.init)
            }
            instanceIDs.formUnion(live.compactMap(\.instanceID))
            let cancellable = live.filter(\.isLive).map(\.id)
            if !cancellable.isEmpty {
                try await withoutMissing(cancellable, prefixes: ["sir-"]) { ids in
                    _ = try await self.client.call("CancelSpotInstanceRequests", EC2Params.list("SpotInstanceRequestId", ids))
                }
            }
        }
        for batch in Self.chunks(instanceIDs.sorted()) {
            try await withoutMissing(batch, prefixes: ["i-"]) { ids in
                _ = try await self.client.call("TerminateInstances", EC2Params.list("InstanceId", ids))
            }
        }
    }

    /// Runs `body` on `ids`; when EC2 answers that some of them do not exist, runs it
    /// again without the ones its message names, so one gone ID never drops the rest.
    /// If the message names none of them, the batch is halved to find the missing ones.
    func withoutMissing(_ ids: [String], prefixes: [String], _ body: ([String]) async throws -> Void) async throws {
        var remaining = ids
        while !remaining.isEmpty {
            do {
                try await body(remaining)
                return
            } catch let error as EC2CallError where error.reply.isNotFound {
                let missing = Set(error.reply.missingIDs(prefixes: prefixes)).intersection(remaining)
                if !missing.isEmpty {
                    remaining.removeAll { missing.contains($0) }
                } else if remaining.count == 1 {
                    return // the one ID left is the missing one
                } else {
                    let half = remaining.count / 2
                    try await withoutMissing(Array(remaining[..<half]), prefixes: prefixes, body)
                    try await withoutMissing(Array(remaining[half...]), prefixes: prefixes, body)
                    return
                }
            }
        }
    }
}
