import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with posix_spawn: default signal handling and an empty signal mask
/// (a server that handles SIGTERM through a dispatch source ignores it, and Swift's pool
/// threads may block it; the child must not inherit either), stdin from /dev/null,
/// stdout and stderr to one file, and no other descriptor of ours (a pipe a caller reads
/// to its end would never close, a lock would never be released).
///
/// `detached` puts it in a new session, the way a machine boots its init: its own
/// process group, signalled as a group, and surviving whoever started it. The local
/// provider starts its instances so, and the CLI its background server; Foundation's
/// Process cannot setsid. Without it, `runToExit` runs a program to its end, for the
/// test harness and the benchmarks: the output goes to a file rather than a pipe, since
/// a daemon it starts (pg_ctl's postmaster) would hold a pipe open.
public struct ChildProcess: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Where it starts; nil keeps ours.
    public var workingDirectory: String?
    /// Its stdout and stderr.
    public var outputPath: String
    /// Append to the output file (a log), or start it empty.
    public var appendsOutput: Bool
    /// Its own session and process group.
    public var detached: Bool
    /// Whether a thread of ours waits for it to exit (see `reapWhenItExits`). A process
    /// that outlives us soon, as the CLI's server does, needs none: init adopts it.
    public var reapsWhenItExits: Bool

    /// A detached process whose output is appended to a log.
    public init(executable: String, arguments: [String], environment: [String: String],
                workingDirectory: String?, logPath: String, reapsWhenItExits: Bool = true) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.outputPath = logPath
        self.appendsOutput = true
        self.detached = true
        self.reapsWhenItExits = reapsWhenItExits
    }

    /// A program to run to its end in our session, its output written afresh to `outputPath`.
    public init(running executable: String, _ arguments: [String], environment: [String: String],
                workingDirectory: String? = nil, outputPath: String) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.outputPath = outputPath
        self.appendsOutput = false
        self.detached = false
        self.reapsWhenItExits = false
    }

    /// posix_spawn refused: the executable is missing or not executable, or the output
    /// file cannot be opened.
    public struct SpawnFailure: Error, CustomStringConvertible {
        public let executable: String
        public let reason: String
        public var description: String { "cannot start \(executable): \(reason)" }
    }

    /// Glibc defines it only under _GNU_SOURCE, which Swift's Glibc module does not set.
    private static let setsidFlag: Int32 = 0x80

    public func spawn() throws(SpawnFailure) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        let flags = (detached ? Self.setsidFlag : 0) | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | (appendsOutput ? O_APPEND : O_TRUNC), 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        Self.closeInheritedDescriptors(&actions)
        if let workingDirectory,
           let chdir = Self.glibcFunction("posix_spawn_file_actions_addchdir_np", as: AddChdir.self) {
            _ = chdir(&actions, workingDirectory)
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw SpawnFailure(executable: executable, reason: String(cString: strerror(status)))
        }
        if reapsWhenItExits { Self.reapWhenItExits(pid) }
        return pid
    }

    /// Runs it to its end and returns its exit status (128 + N when signal N ended it).
    public func runToExit() throws(SpawnFailure) -> Int32 {
        var program = self
        program.reapsWhenItExits = false
        let pid = try program.spawn()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// The instance is our child however detached it is (setsid changes its session, not
    /// its parent), so when it exits only we can collect it: a server that spawned it and
    /// never looks again (the instance was terminated by another process, or its runner
    /// exited on its own) would keep a zombie for the rest of its life. One thread per
    /// instance waits for it and reaps it the moment it ends. Liveness checks elsewhere
    /// may reap it first; then this wait ends with ECHILD, which is just as good.
    private static func reapWhenItExits(_ pid: pid_t) {
        let reaper = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        reaper.name = "dstack-reaper-\(pid)"
        reaper.stackSize = 64 << 10
        reaper.start()
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// A leaked descriptor would outlive us in the instance: a pipe a test reads to EOF
    /// would never close, a lock would never be released. glibc ≥ 2.34 closes them all
    /// in one action; elsewhere close each one open now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let closeFrom = glibcFunction("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self),
           closeFrom(&actions, 3) == 0 {
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// GNU extensions the Swift Glibc module does not import, looked up at run time.
    private static func glibcFunction<F>(_ name: String, as type: F.Type) -> F? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}
