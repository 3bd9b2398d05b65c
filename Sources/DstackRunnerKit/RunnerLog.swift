import Foundation

/// The runner's log: one line per event on stdout, which is a file on instances.
/// Secrets registered here (the registration token, the per-instance token) are
/// masked in every line, so no error text that happens to echo one can leak it.
public final class RunnerLog: @unchecked Sendable {
    private let lock = NSLock()
    private var secrets: [String] = []
    private let sink: @Sendable (String) -> Void

    /// `sink` receives each finished line, newline included.
    public init(sink: @escaping @Sendable (String) -> Void = RunnerLog.standardOutput) {
        self.sink = sink
    }

    public func addSecret(_ secret: String) {
        guard !secret.isEmpty else { return }
        lock.withLock { secrets.append(secret) }
    }

    public func callAsFunction(_ message: String) {
        lock.withLock {
            var line = "dstack-runner: \(message)\n"
            for secret in secrets { line = line.replacingOccurrences(of: secret, with: "[redacted]") }
            sink(line)
        }
    }

    public static let standardOutput: @Sendable (String) -> Void = { line in
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
