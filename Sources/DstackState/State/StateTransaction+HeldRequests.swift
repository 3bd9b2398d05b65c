import Foundation

/// What the reconciler remembers of spot requests it gave up on (Reconciler+Fulfillment):
/// which ones it cancelled, and the note each run waiting on one shows. In state, so a
/// restarted server (or the next leader) still terminates an instance a cancelled
/// request was fulfilled with, and a waiting run keeps saying why it waits.
extension StateTransaction {
    // MARK: cancelled spot requests

    /// Records spot requests cancelled unfulfilled at `now`; recording one again keeps
    /// its first time. Rows older than `forgetBefore` go: a cloud fulfils a cancelled
    /// request within moments, and after the sweep grace an unknown instance is swept.
    public func recordCancelledSpotRequests(_ requestIDs: [String], vendor: String, at now: Date, forgetBefore: Date) throws {
        try db.query("DELETE FROM cancelled_spot_requests WHERE cancelled_at < ?", [.real(forgetBefore.timeIntervalSince1970)])
        for id in Set(requestIDs).sorted() {
            try db.query("""
                INSERT INTO cancelled_spot_requests(vendor, request_id, cancelled_at) VALUES (?, ?, ?)
                ON CONFLICT(vendor, request_id) DO NOTHING
                """, [.text(vendor), .text(id), .real(now.timeIntervalSince1970)])
        }
    }

    /// The spot requests of `vendor` that dstack cancelled unfulfilled and still remembers.
    public func cancelledSpotRequests(vendor: String) throws -> Set<String> {
        Set(try db.query("SELECT request_id FROM cancelled_spot_requests WHERE vendor = ?", [.text(vendor)]).compactMap { $0.first?.text })
    }

    // MARK: wait notes

    /// Why a waiting run's last spot request was given up (nil clears it), e.g.
    /// "m5.xlarge: capacity-not-available in us-east-1a, trying us-east-1b".
    public func setWaitNote(_ runID: String, _ note: String?) throws {
        try db.query("UPDATE runs SET wait_note = ? WHERE id = ? AND wait_note IS DISTINCT FROM ?",
                     [note.map(SQLiteValue.text) ?? .null, .text(runID), note.map(SQLiteValue.text) ?? .null])
    }

    /// Every run's wait note, by run: few runs have one at any time.
    public func waitNotes() throws -> [String: String] {
        var notes: [String: String] = [:]
        for row in try db.query("SELECT id, wait_note FROM runs WHERE wait_note IS NOT NULL") {
            if let id = row[0].text, let note = row[1].text { notes[id] = note }
        }
        return notes
    }
}
