import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation

/// Prints a run's status changes and output as they arrive, until it ends or the
/// user presses Ctrl-C (which detaches; the run goes on). It long-polls the server's
/// log route, which answers as soon as there is output or a change.
struct RunFollower {
    let client: DstackAPIClient
    let runID: String
    var showStatus: Bool
    /// How long one poll may wait at the server; short, so the status line's elapsed time ticks.
    var pollWait = 1

    /// Returns the exit code to leave with: the run's own.
    func follow() async throws -> Int32 {
        let interrupted = InterruptFlag.install()
        var lastSeq = 0
        var progress = RunProgress(mode: isatty(STDOUT_FILENO) != 0 && isatty(STDERR_FILENO) != 0 ? .terminal : .plain)
        let statusOut = FileHandle.standardError
        var wait = 0
        while true {
            let page = try await client.get(APIPaths.runLogs(runID), query: ["after": String(lastSeq), "wait": String(wait)],
                                            as: LogPage.self)
            let run = page.run
            let entries = page.entries
            if showStatus, !entries.isEmpty {
                let ending = entries.contains { $0.stream != "system" } ? progress.beforeRunOutput() : progress.beforeSystemLine()
                statusOut.write(Data(ending.utf8))
            }
            for entry in entries {
                lastSeq = entry.seq
                switch entry.stream {
                case "stdout": FileHandle.standardOutput.write(Data(entry.text.utf8))
                case "stderr": FileHandle.standardError.write(Data(entry.text.utf8))
                default: if showStatus { FileHandle.standardError.write(Data(entry.text.utf8)) }
                }
            }
            if showStatus { statusOut.write(Data(progress.update(run, now: Date()).utf8)) }
            // Everything up to the end is printed before leaving: a finished run's last
            // page may not hold all of its output.
            if run.isFinished, entries.isEmpty { return Self.exitCode(run) }
            if interrupted.isSet {
                // The message starts on a new line, which also ends a terminal's status line.
                FileHandle.standardError.write(Data("""
                    \n[dstack] Detached; \(run.id) goes on. Reattach with: dstack logs \(run.id) --follow; stop it with: dstack stop \(run.id)\n
                    """.utf8))
                return 0
            }
            wait = entries.isEmpty ? pollWait : 0
        }
    }

    static func exitCode(_ run: RunInfo) -> Int32 {
        switch run.status {
        case "done": return 0
        case "failed": return Int32(clamping: run.exitCode.map { $0 == 0 ? 1 : $0 } ?? 1)
        case "stopped": return 130
        default: return 1
        }
    }
}

/// Ctrl-C sets a flag instead of killing the process, so the follower can say how to
/// reattach before it leaves.
final class InterruptFlag: @unchecked Sendable { // the flag is a sig_atomic_t, written only by the handler
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    var isSet: Bool { Self.flag != 0 }

    static func install() -> InterruptFlag {
        signal(SIGINT) { _ in InterruptFlag.flag = 1 }
        return InterruptFlag()
    }
}
