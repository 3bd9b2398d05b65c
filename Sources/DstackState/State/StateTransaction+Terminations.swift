import DstackProvider
import Foundation

/// Terminations journaled before the cloud is called (`journalTermination`) and cleared
/// once it has taken them (`forget`). The journal step before a termination takes the
/// instance out of the fleet; if the cloud call then fails (throttled past the retries,
/// a dropped connection), what is left here is sent again the next pass, rather than
/// waiting for the sweep to find the instances once they are past its grace period.
extension StateTransaction {
    public func journalTermination(_ target: TerminationTarget, vendor: String, at now: Date) throws {
        let rows = Set(target.instanceIDs).sorted().map { ($0, "instance") } + Set(target.spotRequestIDs).sorted().map { ($0, "spot_request") }
        for (id, kind) in rows {
            try db.query("""
                INSERT INTO pending_terminations(vendor, resource_id, kind, at) VALUES (?, ?, ?, ?)
                ON CONFLICT(vendor, resource_id) DO NOTHING
                """, [.text(vendor), .text(id), .text(kind), .real(now.timeIntervalSince1970)])
        }
    }

    /// Everything journaled for termination that the cloud has not yet taken.
    public func journaledTerminations(vendor: String) throws -> TerminationTarget {
        var target = TerminationTarget()
        for row in try db.query("SELECT resource_id, kind FROM pending_terminations WHERE vendor = ? ORDER BY at, resource_id",
                                [.text(vendor)]) {
            guard let id = row[0].text else { continue }
            if row[1].text == "spot_request" { target.spotRequestIDs.append(id) } else { target.instanceIDs.append(id) }
        }
        return target
    }

    func forgetJournaledTermination(_ target: TerminationTarget, vendor: String) throws {
        for id in Set(target.instanceIDs + target.spotRequestIDs).sorted() {
            try db.query("DELETE FROM pending_terminations WHERE vendor = ? AND resource_id = ?", [.text(vendor), .text(id)])
        }
    }
}
