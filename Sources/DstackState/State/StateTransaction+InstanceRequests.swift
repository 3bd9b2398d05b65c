import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// A manual launch as state keeps it: waiting for a pass, launched (by which batch), or
/// refused (with why).
public struct InstanceRequestRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, launched, refused }

    public var id: String
    public var instanceType: String
    public var count: Int
    public var status: Status
    public var reason: String?
    public var launchToken: String?
}

extension StateTransaction {
    public func addInstanceRequest(id: String, instanceType: String, count: Int, at now: Date = Date()) throws {
        try db.query("INSERT INTO instance_requests(id, instance_type, count, status, created_at) VALUES (?, ?, ?, 'pending', ?)",
                     [.text(id), .text(instanceType), .integer(Int64(count)), .real(now.timeIntervalSince1970)])
    }

    /// Requests no pass has carried out yet, oldest first.
    public func pendingInstanceRequests() throws -> [InstanceRequestRecord] {
        try db.query("""
            SELECT id, instance_type, count, status, reason, launch_token FROM instance_requests
            WHERE status = 'pending' ORDER BY created_at, id
            """).map(Self.instanceRequest)
    }

    public func instanceRequest(_ id: String) throws -> InstanceRequestRecord? {
        try db.query("SELECT id, instance_type, count, status, reason, launch_token FROM instance_requests WHERE id = ?",
                     [.text(id)]).first.map(Self.instanceRequest)
    }

    public func markInstanceRequestLaunched(_ id: String, launchToken: String) throws {
        try db.query("UPDATE instance_requests SET status = 'launched', launch_token = ? WHERE id = ?", [.text(launchToken), .text(id)])
    }

    public func refuseInstanceRequest(_ id: String, reason: String) throws {
        try db.query("UPDATE instance_requests SET status = 'refused', reason = ? WHERE id = ?", [.text(reason), .text(id)])
    }

    /// The spot requests a launch batch sent.
    public func launchSpotRequests(token: String) throws -> [String] {
        let text = try db.query("SELECT spot_requests FROM launches WHERE token = ?", [.text(token)]).first?.first?.text ?? ""
        return text.split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    private static func instanceRequest(_ row: [SQLiteValue]) -> InstanceRequestRecord {
        InstanceRequestRecord(id: row[0].text ?? "", instanceType: row[1].text ?? "", count: Int(row[2].integer ?? 0),
                              status: InstanceRequestRecord.Status(rawValue: row[3].text ?? "") ?? .pending,
                              reason: row[4].text, launchToken: row[5].text)
    }
}
