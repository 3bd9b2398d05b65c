import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One command of a run: `/bin/sh -c COMMAND` spawned with posix_spawn as the leader
/// of its own process group (so a stop reaches everything it started), stdin from
/// /dev/null, stdout and stderr into pipes, default signal dispositions and an empty
/// signal mask (the runner blocks SIGTERM in every thread; a child must not inherit
/// that, or a stop would never reach it), no other descriptors.
public final class CommandProcess: @unchecked Sendable {
    public let pid: pid_t
    /// Read ends, close-on-exec in the runner; the caller reads and closes them.
    public let stdout: Int32
    public let stderr: Int32

    public init(command: String, directory: String, environment: [String: String]) throws {
        let outPipe = try Self.closeOnExecPipe()
        let errPipe: [Int32]
        do { errPipe = try Self.closeOnExecPipe() } catch {
            outPipe.forEach { close($0) }
            throw error
        }
        defer {
            close(outPipe[1])
            close(errPipe[1])
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var arguments = ["/bin/sh", "-c", command]
        if let addchdir = SpawnExtensions.addchdir {
            _ = addchdir(&actions, directory)
        } else {
            // glibc before 2.29 has no chdir action: let a shell change directory first.
            arguments = ["/bin/sh", "-c", "cd -- \"$1\" || exit 126; exec /bin/sh -c \"$2\"", "dstack-runner", directory, command]
        }
        // Descriptors libcurl or the runtime opened without close-on-exec stay out of the
        // command (the server connection among them).
        if let closefrom = SpawnExtensions.addclosefrom { _ = closefrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, "/bin/sh", &actions, &attributes, argv, envp)
        guard result == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnError("cannot start /bin/sh: \(String(cString: strerror(result)))")
        }
        pid = child
        stdout = outPipe[0]
        stderr = errPipe[0]
    }

    /// pipe2 is hidden by Swift's Glibc module; the runner spawns from one thread at a
    /// time, and addclosefrom_np covers the gap between pipe and fcntl anyway.
    private static func closeOnExecPipe() throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SpawnError("pipe: \(String(cString: strerror(errno)))") }
        fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Blocks until the shell has exited, without reaping it: its process group keeps
    /// its ID until then, so the caller can still signal the group safely.
    public func waitForExitWithoutReaping() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
    }

    /// Reaps the shell; the exit status, or 128 + the signal that killed it (as a shell reports it).
    public func reap() -> Int {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? Int((status >> 8) & 0xff) : 128 + Int(signal)
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// glibc's `_np` spawn actions, looked up at run time: Swift's Glibc module hides them
/// (they need _GNU_SOURCE), and a hard link would keep the runner off older distributions.
enum SpawnExtensions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addchdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let addclosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(pointer, to: T.self)
    }
}
