import DstackCore
import Foundation

/// Prints a run's status changes and output as they arrive, until it ends or the
/// user presses Ctrl-C (which detaches; the run goes on).
struct RunFollower {
    let workspace: Workspace
    let runID: String
    var showStatus: Bool
    var pollInterval: TimeInterval = 0.1

    /// Returns the exit code to leave with: the run's own.
    func follow() throws -> Int32 {
        let interrupted = InterruptFlag.install()
        var lastSeq = 0
        var progress = RunProgress(mode: isatty(STDOUT_FILENO) != 0 && isatty(STDERR_FILENO) != 0 ? .terminal : .plain)
        let statusOut = FileHandle.standardError
        while true {
            let (run, entries) = try workspace.state().read { tx in (try tx.run(runID), try tx.logs(runID: runID, after: lastSeq)) }
            guard let run else { throw CLIError("no run \(runID)") }
            if showStatus, !entries.isEmpty {
                let ending = entries.contains { $0.stream != .system } ? progress.beforeRunOutput() : progress.beforeSystemLine()
                statusOut.write(Data(ending.utf8))
            }
            for entry in entries {
                lastSeq = entry.seq
                switch entry.stream {
                case .stdout: FileHandle.standardOutput.write(Data(entry.text.utf8))
                case .stderr: FileHandle.standardError.write(Data(entry.text.utf8))
                case .system: if showStatus { FileHandle.standardError.write(Data(entry.text.utf8)) }
                }
            }
            if showStatus { statusOut.write(Data(progress.update(run, now: Date()).utf8)) }
            if run.status.isFinished { return Self.exitCode(run) }
            if interrupted.isSet {
                // The message starts on a new line, which also ends a terminal's status line.
                FileHandle.standardError.write(Data("""
                    \n[dstack] Detached; \(run.id) goes on. Reattach with: dstack logs \(run.id) --follow; stop it with: dstack stop \(run.id)\n
                    """.utf8))
                return 0
            }
            Thread.sleep(forTimeInterval: pollInterval)
        }
    }

    static func exitCode(_ run: RunRecord) -> Int32 {
        switch run.status {
        case .done: return 0
        case .failed: return Int32(clamping: run.exitCode.map { $0 == 0 ? 1 : $0 } ?? 1)
        case .stopped: return 130
        default: return 1
        }
    }
}

/// Ctrl-C sets a flag instead of killing the process, so the follower can say how to
/// reattach before it leaves.
final class InterruptFlag: @unchecked Sendable {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    var isSet: Bool { Self.flag != 0 }

    static func install() -> InterruptFlag {
        signal(SIGINT) { _ in InterruptFlag.flag = 1 }
        return InterruptFlag()
    }
}
