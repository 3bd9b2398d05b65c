import Foundation

/// Where the CPU went during one load of the `replicas` benchmark: each replica (the
/// leader marked), PostgreSQL (the postmaster and its backends) and this process (the
/// load generator), from /proc, so that a latency figure on a saturated machine can be
/// read as "which process was busy".
struct CPUShares {
    /// Seconds of CPU by process, in display order.
    var seconds: [(name: String, seconds: Double)]
    var requests: Int

    /// "replica 0 (leader) 1.23 s (0.52 ms/request), ...".
    var summary: String {
        let total = seconds.reduce(0) { $0 + $1.seconds }
        let parts = seconds.map { String(format: "%@ %.2f s", $0.name, $0.seconds) }
        let perRequest = requests > 0 ? String(format: "; %.2f ms of CPU a request in all", total * 1000 / Double(requests)) : ""
        return parts.joined(separator: ", ") + perRequest
    }
}

/// A snapshot of the CPU seconds used so far by the replicas, PostgreSQL and this process.
struct CPUSnapshot: Sendable {
    var byName: [(name: String, seconds: Double)]

    static func take(replicas: [(name: String, pid: Int32)], postgresPID: Int32) -> CPUSnapshot {
        var byName = replicas.map { ($0.name, (try? ProcessStats.of($0.pid).cpuSeconds) ?? 0) }
        byName.append(("PostgreSQL", postgresCPUSeconds(postmaster: postgresPID)))
        byName.append(("load generator", ProcessStats.ownCPUSeconds()))
        return CPUSnapshot(byName: byName)
    }

    /// What was used between `self` (earlier) and `later`.
    func until(_ later: CPUSnapshot, requests: Int) -> CPUShares {
        CPUShares(seconds: zip(byName, later.byName).map { (name: $1.name, seconds: max(0, $1.seconds - $0.seconds)) }, requests: requests)
    }

    /// The postmaster and every process it started (one backend per connection).
    private static func postgresCPUSeconds(postmaster: Int32) -> Double {
        var total = (try? ProcessStats.of(postmaster).cpuSeconds) ?? 0
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != postmaster,
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After ')': state, then the parent's PID.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == postmaster else { continue }
            total += (try? ProcessStats.of(pid).cpuSeconds) ?? 0
        }
        return total
    }
}
