import DstackCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `runner.json` in the state directory: who is running and since when, so the
/// provider (and a human) can tell the runner really started.
enum RunnerRecord {
    static let fileName = "runner.json"

    static func write(instanceID: String, pid: Int32, startedAt: Date, in directory: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let record: JSONValue = [
            "instance_id": .string(instanceID),
            "pid": .int(Int64(pid)),
            "started_at": .string(formatter.string(from: startedAt)),
        ]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try replace(directory + "/" + fileName, with: record.serialized(pretty: true) + "\n")
    }

    /// Temp file, fsync, rename: a reader never sees half a record.
    private static func replace(_ path: String, with text: String) throws {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunnerError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(fd) == 0
        let code = errno
        close(fd)
        guard synced, rename(temp, path) == 0 else {
            let failure = synced ? errno : code
            unlink(temp)
            throw RunnerError("cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }
}

struct RunnerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
