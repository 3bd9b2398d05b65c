import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Shuts the machine down: `/sbin/shutdown -h now`, else `poweroff` (images differ in
/// which one works). On a spot instance that ends the billing.
public enum PowerOff {
    public static let defaultCommands = [["/sbin/shutdown", "-h", "now"], ["poweroff"]]

    /// Tries each command until one exits 0; false when none did.
    @discardableResult
    public static func run(_ commands: [[String]] = defaultCommands, log: RunnerLog) -> Bool {
        for command in commands {
            let code = spawnAndWait(command)
            if code == 0 { return true }
            log("\(command.joined(separator: " ")) failed (\(code.map { "exit \($0)" } ?? "could not start"))")
        }
        return false
    }

    private static func spawnAndWait(_ command: [String]) -> Int32? {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The runner blocks SIGTERM everywhere; shutdown's children must not inherit that.
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, command[0], nil, &attributes, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
