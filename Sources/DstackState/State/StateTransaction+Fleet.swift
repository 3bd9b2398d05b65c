import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// An instance as the server tracks it once its runner has registered.
public struct FleetInstance: Sendable, Equatable {
    /// `interrupted`: the cloud is taking it back; it gets no work and no longer counts
    /// against its rule's max.
    public enum Phase: String, Sendable { case provisioning, idle, busy, interrupted }

    public var id: String
    public var vendor: String
    public var instanceType: String
    public var spotRequestID: String?
    public var launchToken: String?
    public var phase: Phase
    public var runID: String?
    public var tokenHash: String?
    public var registeredAt: Date?
    public var idleSince: Date?
    public var heartbeatAt: Date?
    public var recordedAt: Date
    /// The root disk its launch asked for (GB); nil: the image's default.
    public var diskGB: Int? = nil
    /// The availability zone the cloud listed it in, when it names one.
    public var zone: String? = nil
    /// The signal that said the cloud takes it back, when one did, and when.
    public var interruption: String? = nil
    public var interruptedAt: Date? = nil
    /// When the cloud said it terminates it, if it said.
    public var terminateAt: Date? = nil
    /// A rebalance recommendation's policy put on it: `drain` or `replace`.
    public var draining: String? = nil
}

/// A launch batch still expecting runners to register.
public struct OpenBatch: Sendable, Equatable {
    public var token: String
    public var instanceType: String
    public var count: Int
    public var registered: Int
    public var spotRequestIDs: [String]
    public var registrationHash: String?
    public var createdAt: Date
    public var status: LaunchRecord.Status
    /// The root disk each of its instances asked for (GB); nil: the image's default.
    public var diskGB: Int? = nil

    /// Slots whose runner has not registered yet.
    public var provisioning: Int { max(0, count - registered) }
}

extension StateTransaction {
    private static let fleetColumns = """
        id, vendor, instance_type, spot_request_id, launch_token, phase, run_id, token_hash, registered_at,
        idle_since, heartbeat_at, recorded_at, (SELECT disk_gb FROM launches WHERE launches.token = instances.launch_token),
        zone, interruption, interrupted_at, terminate_at, draining
        """

    public func fleet(vendor: String) throws -> [FleetInstance] {
        try db.query("SELECT \(Self.fleetColumns) FROM instances WHERE vendor = ? ORDER BY recorded_at, id", [.text(vendor)])
            .map(Self.fleetInstance)
    }

    public func fleetInstance(_ id: String) throws -> FleetInstance? {
        try db.query("SELECT \(Self.fleetColumns) FROM instances WHERE id = ?", [.text(id)]).first.map(Self.fleetInstance)
    }

    /// Journals a launch batch with the hash of its registration token, before the provider is called.
    public func journalBatch(token: String, vendor: String, instanceType: String, count: Int, registrationHash: String,
                             diskGB: Int? = nil, at now: Date = Date()) throws {
        try db.query("""
            INSERT INTO launches(token, vendor, instance_type, count, status, registration_hash, created_at, disk_gb)
            VALUES (?, ?, ?, ?, 'intent', ?, ?, ?)
            """, [.text(token), .text(vendor), .text(instanceType), .integer(Int64(count)), .text(registrationHash),
                  .real(now.timeIntervalSince1970), diskGB.map { .integer(Int64($0)) } ?? .null])
    }

    /// Batches that still expect runners: intent (the provider call may not have happened)
    /// or sent, and not closed.
    public func openBatches(vendor: String) throws -> [OpenBatch] {
        try db.query("""
            SELECT token, instance_type, count, registered, spot_requests, registration_hash, created_at, status, disk_gb
            FROM launches WHERE vendor = ? AND closed = 0 AND status IN ('intent', 'sent') ORDER BY created_at
            """, [.text(vendor)]).map { row in
            OpenBatch(token: row[0].text ?? "", instanceType: row[1].text ?? "", count: Int(row[2].integer ?? 0),
                      registered: Int(row[3].integer ?? 0),
                      spotRequestIDs: (row[4].text ?? "").split(separator: ",").map(String.init),
                      registrationHash: row[5].text, createdAt: Date(timeIntervalSince1970: row[6].real ?? 0),
                      status: LaunchRecord.Status(rawValue: row[7].text ?? "") ?? .failed,
                      diskGB: row[8].integer.map(Int.init))
        }
    }

    /// The open batch whose registration token has this hash. A batch sent twice after
    /// a crash has two hashes, comma-separated.
    public func batch(registrationHash: String) throws -> (batch: OpenBatch, vendor: String)? {
        for row in try db.query("SELECT vendor, registration_hash FROM launches WHERE closed = 0 AND registration_hash IS NOT NULL") {
            let hashes = (row[1].text ?? "").split(separator: ",").map(String.init)
            guard hashes.contains(registrationHash), let vendor = row[0].text else { continue }
            if let batch = try openBatches(vendor: vendor).first(where: { $0.registrationHash == row[1].text }) {
                return (batch, vendor)
            }
        }
        return nil
    }

    public func addRegistrationHash(token: String, hash: String) throws {
        try db.query("""
            UPDATE launches SET registration_hash = CASE WHEN registration_hash IS NULL OR registration_hash = ''
            THEN ? ELSE registration_hash || ',' || ? END WHERE token = ?
            """, [.text(hash), .text(hash), .text(token)])
    }

    public func closeBatch(token: String) throws {
        try db.query("UPDATE launches SET closed = 1 WHERE token = ?", [.text(token)])
    }

    /// A batch gives up `slots` of its unregistered instances and keeps the rest: it now
    /// waits for that many fewer runners (and is closed once the rest have registered).
    public func shrinkBatch(token: String, by slots: Int) throws {
        try db.query("UPDATE launches SET count = count - ? WHERE token = ? AND count > ?",
                     [.integer(Int64(slots)), .text(token), .integer(Int64(slots))])
        try db.query("UPDATE launches SET closed = 1 WHERE token = ? AND registered >= count", [.text(token)])
    }

    /// Records a runner's registration: the instance becomes idle with its token's hash.
    public func registerInstance(id: String, vendor: String, instanceType: String, spotRequestID: String?, batchToken: String,
                                 tokenHash: String, at now: Date = Date()) throws {
        let time = SQLiteValue.real(now.timeIntervalSince1970)
        try db.query("""
            INSERT INTO instances(id, vendor, instance_type, spot_request_id, launch_token, recorded_at, phase, token_hash,
                                  registered_at, idle_since, heartbeat_at)
            VALUES (?, ?, ?, ?, ?, ?, 'idle', ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET phase = 'idle', token_hash = excluded.token_hash, registered_at = excluded.registered_at,
                idle_since = excluded.idle_since, heartbeat_at = excluded.heartbeat_at, launch_token = excluded.launch_token
            """, [.text(id), .text(vendor), .text(instanceType), spotRequestID.map(SQLiteValue.text) ?? .null, .text(batchToken),
                  time, .text(tokenHash), time, time, time])
        try db.query("UPDATE launches SET registered = registered + 1 WHERE token = ?", [.text(batchToken)])
        try db.query("UPDATE launches SET closed = 1 WHERE token = ? AND registered >= count", [.text(batchToken)])
    }

    /// Whether `registrationHash` is one of the registration tokens of the launch batch
    /// `batchToken`, open or closed (a batch closes once all its runners registered).
    public func batch(_ batchToken: String, hasRegistrationHash registrationHash: String) throws -> Bool {
        let hashes = try db.query("SELECT registration_hash FROM launches WHERE token = ?", [.text(batchToken)]).first?.first?.text
        return (hashes ?? "").split(separator: ",").contains { $0 == registrationHash }
    }

    /// Gives a registered instance a new runner token (only its hash is kept); the old
    /// one stops working.
    public func reissueRunnerToken(instanceID: String, tokenHash: String, at now: Date = Date()) throws {
        try db.query("UPDATE instances SET token_hash = ?, heartbeat_at = ? WHERE id = ? AND token_hash IS NOT NULL",
                     [.text(tokenHash), .real(now.timeIntervalSince1970), .text(instanceID)])
    }

    /// Gives an idle instance a run; false when it is no longer idle (or gone).
    @discardableResult
    public func assign(runID: String, to instanceID: String, at now: Date = Date()) throws -> Bool {
        try db.query("UPDATE instances SET phase = 'busy', run_id = ?, idle_since = NULL WHERE id = ? AND phase = 'idle'",
                     [.text(runID), .text(instanceID)])
        guard db.changes == 1 else { return false }
        try startRunUsage(runID: runID, instanceID: instanceID, at: now) // the cost model's busy span
        return true
    }

    public func release(instanceID: String, at now: Date = Date()) throws {
        try db.query("UPDATE instances SET phase = 'idle', run_id = NULL, idle_since = ? WHERE id = ?",
                     [.real(now.timeIntervalSince1970), .text(instanceID)])
        try endRunUsage(instanceID: instanceID, at: now)
    }

    public func heartbeat(instanceID: String, at now: Date = Date()) throws {
        try db.query("UPDATE instances SET heartbeat_at = ? WHERE id = ?", [.real(now.timeIntervalSince1970), .text(instanceID)])
    }

    public func removeInstance(_ id: String, at now: Date = Date()) throws {
        try db.query("DELETE FROM instances WHERE id = ?", [.text(id)])
        try endRunUsage(instanceID: id, at: now)
    }

    private static func fleetInstance(_ row: [SQLiteValue]) -> FleetInstance {
        FleetInstance(id: row[0].text ?? "", vendor: row[1].text ?? "", instanceType: row[2].text ?? "",
                      spotRequestID: row[3].text, launchToken: row[4].text,
                      phase: FleetInstance.Phase(rawValue: row[5].text ?? "") ?? .provisioning, runID: row[6].text,
                      tokenHash: row[7].text, registeredAt: row[8].real.map(Date.init(timeIntervalSince1970:)),
                      idleSince: row[9].real.map(Date.init(timeIntervalSince1970:)),
                      heartbeatAt: row[10].real.map(Date.init(timeIntervalSince1970:)),
                      recordedAt: Date(timeIntervalSince1970: row[11].real ?? 0),
                      diskGB: row[12].integer.map(Int.init), zone: row[13].text, interruption: row[14].text,
                      interruptedAt: row[15].real.map(Date.init(timeIntervalSince1970:)),
                      terminateAt: row[16].real.map(Date.init(timeIntervalSince1970:)), draining: row[17].text)
    }
}

extension StateTransaction {
    /// The instance a runner token (by its hash) belongs to.
    public func instanceID(tokenHash: String) throws -> String? {
        try db.query("SELECT id FROM instances WHERE token_hash = ?", [.text(tokenHash)]).first?.first?.text
    }
}
