import DstackWire
import Foundation

/// `runner.json` in the state directory: who is running and since when, so the
/// provider (and a human) can tell the runner really started. No tokens in it.
public enum RunnerRecord {
    public static let fileName = "runner.json"

    public static func write(instanceID: String, pid: Int32, startedAt: Date, in directory: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let record: JSONValue = [
            "instance_id": .string(instanceID),
            "pid": .int(Int64(pid)),
            "started_at": .string(formatter.string(from: startedAt)),
        ]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = URL(fileURLWithPath: directory).appendingPathComponent(fileName)
        try AtomicFile.write(Array((record.serialized(pretty: true) + "\n").utf8), to: url, mode: 0o644)
    }
}
