import DstackProvider
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The facts of the one local instance type: this machine's own.
enum MachineFacts {
    static func instanceType(named name: String) -> InstanceTypeFacts {
        InstanceTypeFacts(name: name, vcpus: vcpus(), memoryMiB: memoryMiB(), gpus: [], architecture: architecture())
    }

    /// Online CPUs, as `getconf _NPROCESSORS_ONLN` reports them.
    static func vcpus() -> Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return online > 0 ? online : ProcessInfo.processInfo.processorCount
    }

    /// MemTotal from /proc/meminfo (what `free` shows); Foundation's figure elsewhere.
    static func memoryMiB() -> Int {
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let kib = memTotalKiB(meminfo: meminfo) {
            return kib / 1024
        }
        return Int(ProcessInfo.processInfo.physicalMemory / (1024 * 1024))
    }

    static func memTotalKiB(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let number = line.dropFirst("MemTotal:".count).split(separator: " ").first
            return number.flatMap { Int($0) }
        }
        return nil
    }

    /// `uname -m`, spelled the way instance-type facts spell architectures.
    static func architecture() -> String {
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: &names.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return normalizedArchitecture(machine)
    }

    static func normalizedArchitecture(_ machine: String) -> String {
        switch machine {
        case "aarch64", "arm64": return "arm64"
        case "amd64", "x86_64": return "x86_64"
        default: return machine
        }
    }
}
