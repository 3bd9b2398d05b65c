import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Liveness and signals for an instance's process group. An instance is alive while
/// its group leader (the bootstrap shell, or the runner it exec'd) is alive.
enum ProcessProbe {
    /// Collects the exit status if this process is the parent, so a dead child does
    /// not linger as a zombie that `kill(pid, 0)` still finds. False while `pid` is a
    /// child of ours that has not finished exiting: a runner halfway through exit(0)
    /// can already look like a zombie in /proc, and returning then would leave it
    /// unreaped for good.
    @discardableResult
    static func reap(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        return result != 0 // reaped now, or not our child (ECHILD)
    }

    static func isLeaderAlive(pid: pid_t, startTicks: UInt64?) -> Bool {
        guard pid > 0 else { return false }
        guard reap(pid) else { return true } // our child, still running
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = readStat(pid) else { return true } // no /proc: trust kill()
        if stat.state == "Z" { return false } // dead, its parent just has not reaped it
        if let startTicks, stat.startTicks != startTicks { return false } // pid reused
        return true
    }

    /// True while a living (not zombie) process of the group exists. A zombie leader
    /// whose parent is some other process (the server that spawned it, say) must not
    /// hold a terminate up for the whole grace period. Without /proc, kill() decides.
    static func groupExists(_ pgid: pid_t) -> Bool {
        guard pgid > 0 else { return false }
        guard reap(pgid) else { return true } // our child leads it and has not exited
        guard kill(-pgid, 0) == 0 || errno == EPERM else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        return entries.contains { entry in
            guard let pid = pid_t(entry), let stat = readStat(pid) else { return false }
            return stat.group == pgid && stat.state != "Z"
        }
    }

    /// Signals the whole group, unless the leader's pid now belongs to someone else.
    static func signalGroup(_ pgid: pid_t, startTicks: UInt64?, _ signal: Int32) {
        guard pgid > 0 else { return }
        if let startTicks, let stat = readStat(pgid), stat.startTicks != startTicks { return }
        _ = kill(-pgid, signal)
    }

    /// The group leader of an instance whose record lost its pid (the launch died between
    /// spawning and writing it down): the earliest living process that leads its own
    /// group and was started with `DSTACK_INSTANCE_ID=<id>` and `DSTACK_INSTANCE_DIR=<its
    /// directory>` (which names the home) in its environment, as only that instance's
    /// bootstrap (or the runner it exec'd) is. Nil without /proc.
    static func instanceLeader(instanceID: String, directory: String) -> (pid: pid_t, startTicks: UInt64)? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let markers = [Array("DSTACK_INSTANCE_ID=\(instanceID)".utf8), Array("DSTACK_INSTANCE_DIR=\(directory)".utf8)]
        var found: (pid: pid_t, startTicks: UInt64)?
        for entry in entries {
            guard let pid = pid_t(entry), let stat = readStat(pid), stat.group == pid, stat.state != "Z" else { continue }
            let variables = environment(of: pid)
            guard markers.allSatisfy(variables.contains) else { continue }
            if found.map({ stat.startTicks < $0.startTicks }) ?? true { found = (pid, stat.startTicks) }
        }
        return found
    }

    /// /proc/PID/environ as its NUL-separated entries; empty when unreadable (another
    /// user's process, or one gone meanwhile). Read by hand: procfs reports size 0.
    private static func environment(of pid: pid_t) -> [[UInt8]] {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return bytes.split(separator: 0, omittingEmptySubsequences: true).map(Array.init)
    }

    /// The leader's start time in clock ticks since boot; nil where there is no /proc.
    static func startTicks(of pid: pid_t) -> UInt64? { readStat(pid)?.startTicks }

    /// Fields 3 (state), 5 (process group) and 22 (starttime) of /proc/PID/stat. The
    /// command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    static func readStat(_ pid: pid_t) -> (state: Character, group: pid_t, startTicks: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let group = pid_t(fields[2]),
              let ticks = UInt64(fields[19]) else { return nil }
        return (state, group, ticks)
    }
}
