import DstackWire
import Foundation

/// What an attached `dstack run` shows of a run until its output flows: its status, the
/// time since it was submitted, why it waits, and its stage. On a terminal one status
/// line is rewritten in place (carriage return, the elapsed time ticking); anywhere else
/// (a pipe, a CI log) there is one plain line per change.
public struct RunProgress {
    public enum Mode: Sendable { case terminal, plain }

    public let mode: Mode
    private var lastChange: Change?
    private var lastText: String?
    /// True while a terminal's status line has been drawn and not ended.
    private var lineOpen = false
    /// Once a run's output starts, a terminal gets plain lines too: a status line redrawn
    /// between output chunks would scramble them.
    private var outputStarted = false

    public init(mode: Mode) {
        self.mode = mode
    }

    private struct Change: Equatable {
        var status: String
        var reason: String?
        var stage: String?
    }

    /// `[dstack] run-1 provisioning 42s: waiting for an m5.xlarge instance to start; spot request open (pending-evaluation)`
    public static func text(_ run: RunInfo, now: Date) -> String {
        var text = "[dstack] \(run.id) \(run.status) \(DurationText.format(max(0, now.timeIntervalSince(run.submittedAt))))"
        var details: [String] = []
        if let reason = run.reason, !reason.isEmpty { details.append(reason) }
        if !run.isFinished, let stage = run.stage, stage != run.status { details.append(stage) }
        if !details.isEmpty { text += ": " + details.joined(separator: "; ") }
        return text
    }

    /// What to write (to standard error) after a look at the run; often nothing.
    public mutating func update(_ run: RunInfo, now: Date) -> String {
        let change = Change(status: run.status, reason: run.reason, stage: run.isFinished ? nil : run.stage)
        let text = Self.text(run, now: now)
        if mode == .terminal && !outputStarted {
            if run.isFinished {
                lineOpen = false
                lastChange = change
                return "\r\u{1B}[K" + text + "\n"
            }
            guard text != lastText else { return "" }
            lastText = text
            lastChange = change
            lineOpen = true
            return "\r\u{1B}[K" + text
        }
        guard change != lastChange else { return "" }
        lastChange = change
        return text + "\n"
    }

    /// What to write before the run's own output: a terminal's status line is ended
    /// there (it stays on screen as it was last drawn), and from then on every status
    /// change is a plain line.
    public mutating func beforeRunOutput() -> String {
        outputStarted = true
        return endLine()
    }

    /// What to write before one of dstack's own lines about the run (a launch given up,
    /// an attempt assigned): the status line is ended, and drawn again after it.
    public mutating func beforeSystemLine() -> String {
        lastText = nil
        return endLine()
    }

    private mutating func endLine() -> String {
        guard lineOpen else { return "" }
        lineOpen = false
        return "\n"
    }
}
