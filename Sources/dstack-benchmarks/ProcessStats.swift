import Foundation

/// What Linux's /proc says about a process: CPU time used and resident memory.
struct ProcessStats {
    /// User plus system CPU seconds so far (/proc/PID/stat fields 14 and 15).
    var cpuSeconds: Double
    /// Peak resident set size in MiB (VmHWM in /proc/PID/status).
    var peakRSSMiB: Double
    /// Resident set size now, in MiB (VmRSS).
    var rssMiB: Double
    /// Threads now.
    var threads: Int

    static func of(_ pid: Int32) throws -> ProcessStats {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name may hold spaces: fields are counted after its closing ')'.
        guard let close = stat.lastIndex(of: ")") else { throw BenchmarkError("cannot read /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchmarkError("cannot read the CPU times in /proc/\(pid)/stat")
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kib(_ key: String) -> Double {
            for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                return Double(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
            }
            return 0
        }
        return ProcessStats(cpuSeconds: (user + system) / ticks, peakRSSMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024,
                            threads: Int(kib("Threads")))
    }

    /// This process's own CPU seconds (user plus system, every thread).
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
