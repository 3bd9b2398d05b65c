import DstackProvider
import DstackWire
import Foundation

/// What the local provider remembers about one instance, in
/// `$DSTACK_HOME/local/instances/<id>/instance.json`. Written before the process is
/// spawned (pid nil: intent), then again with the pid, so a crash in between leaves a
/// record to clean up instead of an unknown process.
struct InstanceRecord: Equatable {
    var id: String
    var instanceType: String
    var launchTime: Date
    var idempotencyToken: String
    var installationID: String
    /// The process group leader (setsid makes its pid the group and session ID).
    var pid: Int32?
    /// The leader's start time in clock ticks (/proc/PID/stat), so a reused pid is
    /// never mistaken for the instance.
    var pidStartTicks: UInt64?
    /// Launched in simulated mode: no process, running until terminated.
    var simulated = false

    var json: JSONValue {
        var object: JSONObject = [
            "id": .string(id),
            "instance_type": .string(instanceType),
            "launch_time": .string(Self.timestamp.string(from: launchTime)),
            "idempotency_token": .string(idempotencyToken),
            "installation_id": .string(installationID),
        ]
        object["pid"] = pid.map { .int(Int64($0)) } ?? .null
        object["pid_start_ticks"] = pidStartTicks.map { .int(Int64(bitPattern: $0)) } ?? .null
        if simulated { object["simulated"] = .bool(true) }
        return .object(object)
    }

    /// Nil for anything that is not a complete record: list skips it rather than fail.
    /// `timestamps` parses the launch time; `list` passes one for all its records, since
    /// making a formatter costs far more than parsing (a thousand records: ~100 ms).
    init?(json: JSONValue, timestamps: ISO8601DateFormatter = InstanceRecord.timestamp) {
        guard let id = json["id"]?.stringValue, LocalInstanceID.isValid(id),
              let type = json["instance_type"]?.stringValue,
              let launched = json["launch_time"]?.stringValue.flatMap({ Self.parseTime($0, timestamps) }),
              let token = json["idempotency_token"]?.stringValue
        else { return nil }
        self.id = id
        self.instanceType = type
        self.launchTime = launched
        self.idempotencyToken = token
        self.installationID = json["installation_id"]?.stringValue ?? ""
        self.pid = json["pid"]?.intValue.flatMap { Int32(exactly: $0) }
        self.pidStartTicks = json["pid_start_ticks"]?.intValue.map { UInt64(bitPattern: $0) }
        self.simulated = json["simulated"]?.boolValue ?? false
    }

    init(id: String, instanceType: String, launchTime: Date, idempotencyToken: String,
         installationID: String, pid: Int32? = nil, pidStartTicks: UInt64? = nil, simulated: Bool = false) {
        self.id = id
        self.instanceType = instanceType
        self.launchTime = launchTime
        self.idempotencyToken = idempotencyToken
        self.installationID = installationID
        self.pid = pid
        self.pidStartTicks = pidStartTicks
        self.simulated = simulated
    }

    /// The launch time as `timestamp` writes it. Foundation's own ISO 8601 parser first:
    /// it is pure Swift and several times faster than the formatter's (ICU), which
    /// showed in every reconcile pass over a thousand instances; the formatter for
    /// anything it does not take.
    static func parseTime(_ text: String, _ timestamps: ISO8601DateFormatter) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? timestamps.date(from: text)
    }

    static var timestamp: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}

/// `local-` and 8 lower-case hex digits. Anything else is not ours, which also keeps
/// a hostile ID like `../..` from ever becoming a path.
enum LocalInstanceID {
    static func random() -> String {
        let hex = String(UInt32.random(in: .min ... .max), radix: 16)
        return "local-" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    static func isValid(_ id: String) -> Bool {
        guard id.hasPrefix("local-") else { return false }
        let hex = id.dropFirst("local-".count)
        return hex.count == 8 && hex.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }
}
