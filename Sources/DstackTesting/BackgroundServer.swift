import DstackWire
import Foundation

/// The server a CLI starts by itself for its home (server.json names it).
public enum BackgroundServer {
    public static func pid(home: URL) -> Int32? {
        guard let data = FileManager.default.contents(atPath: home.appendingPathComponent("server.json").path),
              let json = try? JSONValue.parse(Array(data)), let pid = json["pid"]?.intValue,
              kill(Int32(pid), 0) == 0 else { return nil }
        return Int32(pid)
    }

    /// SIGTERM, then SIGKILL after 30 s. A server this test process started itself (its
    /// child) is the test's to stop, and is left alone.
    public static func stop(home: URL) {
        guard let pid = pid(home: home), parent(of: pid) != getpid() else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while kill(pid, 0) == 0, Date() < deadline { usleep(20_000) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }

    private static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}
