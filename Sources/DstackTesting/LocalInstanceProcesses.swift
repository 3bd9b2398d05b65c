import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local provider's instances of a home, stopped by the PIDs their records hold.
/// A test or benchmark whose server is already gone (killed on purpose, or stopped
/// before its instances were terminated) would otherwise leave their runners polling a
/// dead server until their orphan timeout, half an hour later.
public enum LocalInstanceProcesses {
    /// SIGTERM to each instance's process group (an instance leads its own session),
    /// then SIGKILL to any still there after `grace`. Only the process a record names,
    /// with the start time it recorded: a reused PID is left alone.
    public static func stopAll(home: URL, grace: TimeInterval = 5) {
        let leaders = recordedLeaders(home: home)
        leaders.forEach { kill(-$0, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while leaders.contains(where: isAlive) && Date() < deadline { usleep(50_000) }
        leaders.filter(isAlive).forEach { kill(-$0, SIGKILL) }
    }

    private static func recordedLeaders(home: URL) -> [pid_t] {
        let instances = home.appendingPathComponent("local/instances")
        return ((try? FileManager.default.contentsOfDirectory(atPath: instances.path)) ?? []).compactMap { directory in
            let record = instances.appendingPathComponent("\(directory)/instance.json")
            guard let data = try? Data(contentsOf: record), let json = try? JSONValue.parse(String(decoding: data, as: UTF8.self)),
                  let pid = json["pid"]?.intValue, let ticks = json["pid_start_ticks"]?.intValue,
                  startTicks(of: pid_t(pid)) == ticks else { return nil }
            return pid_t(pid)
        }
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    private static func startTicks(of pid: pid_t) -> Int64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").dropFirst(19).first.flatMap { Int64($0) }
    }

    /// Alive and not a zombie (a zombie is gone, only not yet collected by its parent).
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }
}
