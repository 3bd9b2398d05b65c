import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a process the way a machine boots its init: in a new session (so it is its
/// own process group, survives the CLI that started it, and can be signalled as a
/// group), with default signal handling, stdin from /dev/null, stdout and stderr
/// appended to a log, and no file descriptor of ours. Foundation.Process cannot setsid.
/// The local provider starts its instances this way, and the CLI its background server.
public struct DetachedProcess: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Where it starts; nil keeps ours.
    public var workingDirectory: String?
    public var logPath: String
    /// Whether a thread of ours waits for it to exit (see `reapWhenItExits`). A process
    /// that outlives us soon, as the CLI's server does, needs none: init adopts it.
    public var reapsWhenItExits: Bool

    public init(executable: String, arguments: [String], environment: [String: String],
                workingDirectory: String?, logPath: String, reapsWhenItExits: Bool = true) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.reapsWhenItExits = reapsWhenItExits
    }

    /// posix_spawn refused: the executable is missing or not executable, or the log
    /// cannot be opened.
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
        // Reset what the parent may have changed: a server that handles SIGTERM through
        // a dispatch source ignores it, and an ignored signal would be inherited.
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        let flags = Self.setsidFlag | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
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
