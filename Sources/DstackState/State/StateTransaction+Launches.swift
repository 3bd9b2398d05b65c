import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// A launch as the journal records it: intent is written before the provider is
/// called, so a crash in between leaves a token that a retry reuses instead of
/// launching twice.
public struct LaunchRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case intent, sent, failed }

    public var token: String
    public var vendor: String
    public var instanceType: String
    public var count: Int
    public var status: Status
    public var spotRequestIDs: [String]
    public var error: String?
    public var createdAt: Date
}

/// An instance that dstack launched and still considers its own.
public struct InstanceRecord: Sendable, Equatable {
    public var id: String
    public var vendor: String
    public var instanceType: String
    public var spotRequestID: String?
    public var launchToken: String?
    public var recordedAt: Date
}

extension StateTransaction {
    public func markLaunchSent(token: String, spotRequestIDs: [String]) throws {
        try db.query("UPDATE launches SET status = 'sent', spot_requests = ? WHERE token = ?",
                     [.text(spotRequestIDs.joined(separator: ",")), .text(token)])
    }

    public func markLaunchFailed(token: String, error: String) throws {
        try db.query("UPDATE launches SET status = 'failed', error = ? WHERE token = ?", [.text(error), .text(token)])
    }

    public func launches(vendor: String) throws -> [LaunchRecord] {
        try db.query("""
            SELECT token, vendor, instance_type, count, status, spot_requests, error, created_at
            FROM launches WHERE vendor = ? ORDER BY created_at
            """, [.text(vendor)]).map { row in
            LaunchRecord(token: row[0].text ?? "", vendor: row[1].text ?? "", instanceType: row[2].text ?? "",
                         count: Int(row[3].integer ?? 0), status: LaunchRecord.Status(rawValue: row[4].text ?? "") ?? .failed,
                         spotRequestIDs: (row[5].text ?? "").split(separator: ",").map(String.init),
                         error: row[6].text, createdAt: Date(timeIntervalSince1970: row[7].real ?? 0))
        }
    }

    /// Records instances a launch produced; recording one twice keeps the first record.
    public func recordInstances(_ instances: [ManagedInstance], vendor: String, launchToken: String?) throws {
        for instance in instances where !instance.isUnfulfilledRequest {
            try db.query("""
                INSERT INTO instances(id, vendor, instance_type, spot_request_id, launch_token, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                """, [.text(instance.id), .text(vendor), .text(instance.instanceType),
                      instance.spotRequestID.map(SQLiteValue.text) ?? .null,
                      launchToken.map(SQLiteValue.text) ?? .null, .real(Date().timeIntervalSince1970)])
        }
    }

    public func instanceRecords(vendor: String) throws -> [InstanceRecord] {
        try db.query("""
            SELECT id, vendor, instance_type, spot_request_id, launch_token, recorded_at
            FROM instances WHERE vendor = ? ORDER BY recorded_at
            """, [.text(vendor)]).map { row in
            InstanceRecord(id: row[0].text ?? "", vendor: row[1].text ?? "", instanceType: row[2].text ?? "",
                           spotRequestID: row[3].text, launchToken: row[4].text,
                           recordedAt: Date(timeIntervalSince1970: row[5].real ?? 0))
        }
    }

    /// Forgets terminated instances and the spot requests that were cancelled with them.
    public func forget(_ target: TerminationTarget, vendor: String) throws {
        try forgetJournaledTermination(target, vendor: vendor)
        for id in target.instanceIDs {
            try db.query("DELETE FROM instances WHERE id = ? AND vendor = ?", [.text(id), .text(vendor)])
            try endRunUsage(instanceID: id, at: Date())
        }
        guard !target.spotRequestIDs.isEmpty else { return }
        let cancelled = Set(target.spotRequestIDs)
        for launch in try launches(vendor: vendor) where !launch.spotRequestIDs.isEmpty {
            let remaining = launch.spotRequestIDs.filter { !cancelled.contains($0) }
            if remaining.count != launch.spotRequestIDs.count {
                try db.query("UPDATE launches SET spot_requests = ? WHERE token = ?",
                             [.text(remaining.joined(separator: ",")), .text(launch.token)])
            }
        }
    }

    /// What state knows of a vendor's resources, for `CloudProvider.list(known:)`.
    public func knownResources(vendor: String) throws -> KnownResources {
        let records = try instanceRecords(vendor: vendor)
        let requests = try launches(vendor: vendor).flatMap(\.spotRequestIDs) + records.compactMap(\.spotRequestID)
        return KnownResources(spotRequestIDs: Array(Set(requests)).sorted(), instanceIDs: records.map(\.id))
    }
}
