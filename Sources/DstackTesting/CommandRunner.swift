import Foundation

/// Runs a built executable of this package the way a user would, for end-to-end tests.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

public enum BuiltProducts {
    /// The folder holding the package's built executables: $DSTACK_BIN_DIR, else the
    /// folder of the running test bundle (SwiftPM puts both in the same place).
    public static var directory: URL {
        if let explicit = ProcessInfo.processInfo.environment["DSTACK_BIN_DIR"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        // The XCTest runner on Linux is `<name>.xctest` inside the products folder.
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("dstack").path) {
            folder = folder.deletingLastPathComponent()
        }
        return folder.path == "/" ? executable.deletingLastPathComponent() : folder
    }

    public static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}

/// Runs `executable` with `arguments`, feeding `stdin` and collecting both outputs.
/// The environment is the test's own, with `environment` laid over it.
/// `directory` is its working directory (default: the test's own).
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       stdin: String? = nil, timeout: TimeInterval = 120, directory: URL? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    if let directory { process.currentDirectoryURL = directory }
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let output = Pipe(), errors = Pipe(), input = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = input
    try withNoSignalsBlocked { try process.run() }
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()

    // Read both pipes while the process runs, so a chatty child never blocks on a full
    // pipe. Plain read(2) with EINTR retried: Foundation's readDataToEndOfFile traps on
    // an interrupted system call.
    let collected = CollectedOutput()
    let group = DispatchGroup()
    for (handle, isError) in [(output.fileHandleForReading, false), (errors.fileHandleForReading, true)] {
        group.enter()
        let fd = dup(handle.fileDescriptor)
        DispatchQueue.global().async {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { data.append(contentsOf: buffer[..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
            close(fd)
            collected.set(data, isError: isError)
            group.leave()
        }
    }
    try? output.fileHandleForReading.close()
    try? errors.fileHandleForReading.close()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
    }
    group.wait()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: collected.text(isError: false),
                         stderr: collected.text(isError: true))
}

// Sendable because `lock` guards both buffers; the pipe readers write them from other threads.
private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data(), err = Data()

    func set(_ data: Data, isError: Bool) {
        lock.withLock { if isError { err = data } else { out = data } }
    }

    func text(isError: Bool) -> String {
        lock.withLock { String(decoding: isError ? err : out, as: UTF8.self) }
    }
}

/// Runs `body` (a spawn) with this thread's signal mask empty. A child inherits its
/// spawner's mask, and Swift's concurrency threads block SIGTERM and most others: a
/// command started from an async test would otherwise ignore a plain `kill`, and so
/// would a server it starts in the background.
func withNoSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
    var none = sigset_t(), previous = sigset_t()
    sigemptyset(&none)
    pthread_sigmask(SIG_SETMASK, &none, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}
