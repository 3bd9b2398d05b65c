import DstackProvider
import DstackWire
import Foundation

/// Runs a helper program (git, tar) to completion and collects what it printed. Both
/// pipes are drained while it runs, so a chatty child never blocks on a full pipe.
enum ChildProcess {
    struct Outcome {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]

        var errorText: String { String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// `stdoutSink`, when given, receives standard output as it arrives (on a reader
    /// thread) instead of it being collected.
    static func run(_ executable: String, _ arguments: [String], in directory: String,
                    stdin: [UInt8] = [], environment: [String: String]? = nil,
                    stdoutSink: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let environment { process.environment = environment }
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        let collected = Collected()
        let group = DispatchGroup()
        for (handle, isError) in [(output.fileHandleForReading, false), (errors.fileHandleForReading, true)] {
            group.enter()
            let fd = handle.fileDescriptor
            DispatchQueue.global().async {
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                let sink = isError ? nil : stdoutSink
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0, let sink {
                        buffer.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                        continue
                    }
                    if n > 0 { data.append(contentsOf: buffer[..<n]); continue }
                    if n < 0 && errno == EINTR { continue }
                    break
                }
                collected.set(data, isError: isError)
                group.leave()
            }
        }
        if !stdin.isEmpty { input.fileHandleForWriting.write(Data(stdin)) }
        try? input.fileHandleForWriting.close()
        group.wait()
        process.waitUntilExit()
        try? output.fileHandleForReading.close()
        try? errors.fileHandleForReading.close()
        return Outcome(status: process.terminationStatus, stdout: collected.stdout, stderr: collected.stderr)
    }

    static func which(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        for directory in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    // Sendable because `lock` guards both buffers; the pipe readers write them from other threads.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var out: [UInt8] = []
        private var err: [UInt8] = []
        func set(_ data: [UInt8], isError: Bool) { lock.withLock { if isError { err = data } else { out = data } } }
        var stdout: [UInt8] { lock.withLock { out } }
        var stderr: [UInt8] { lock.withLock { err } }
    }
}
