import Foundation
import Yams

/// When a run is tried again, in the format dstack users know:
///
/// ```yaml
/// retry:
///   on_events: [interruption, no-capacity, error]
///   duration: 1h
/// ```
///
/// - `interruption`: the cloud took the instance back (a spot interruption, an
///   instance that vanished, a runner that stopped answering);
/// - `no-capacity`: the cloud had no spot capacity for any type that fits; the run
///   keeps waiting for it (without it, the run fails the first time that happens);
/// - `error`: the run's commands failed (a non-zero exit).
///
/// Retries never go past the server's `--max-retries`, nor past `duration` after the
/// run was submitted. A run with no `retry:` retries interruptions only and waits for
/// capacity, as dstack always did.
public struct RunRetryPolicy: Sendable, Equatable, Hashable {
    public enum Event: String, Sendable, CaseIterable, Hashable {
        case interruption
        case noCapacity = "no-capacity"
        case error
    }

    public var onEvents: [Event]
    /// Seconds after submission after which nothing is retried; nil: no limit but `--max-retries`.
    public var duration: TimeInterval?

    public init(onEvents: [Event], duration: TimeInterval? = nil) {
        self.onEvents = onEvents
        self.duration = duration
    }

    /// Without a `retry:`: interruptions only, and waiting for capacity as before.
    public static let `default` = RunRetryPolicy(onEvents: [.interruption, .noCapacity])

    public func retries(_ event: Event) -> Bool { onEvents.contains(event) }

    /// Whether a retry for `event` is still allowed at `now` for a run submitted at `submittedAt`.
    public func allows(_ event: Event, submittedAt: Date, now: Date) -> Bool {
        guard retries(event) else { return false }
        guard let duration else { return true }
        return now.timeIntervalSince(submittedAt) <= duration
    }

    /// The JSON the state and the API keep: `{"on_events": [...], "duration": seconds}`.
    public var storedText: String {
        let events = onEvents.map { "\"\($0.rawValue)\"" }.joined(separator: ",")
        return "{\"on_events\":[\(events)]" + (duration.map { ",\"duration\":\(Int($0))" } ?? "") + "}"
    }
}

extension RunRetryPolicy {
    /// `retry:` of a workflow: a mapping with `on_events` (a list) and an optional
    /// `duration` (`1h`, `30m`, `90s`, `2d`, or seconds); `retry: true` is the default
    /// events with no duration, `retry: false` retries nothing.
    static func parse(_ node: Node, workflow name: String, fail: (Node, String) -> WorkflowFileError) throws -> RunRetryPolicy {
        if let scalar = node.scalar, node.mapping == nil {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return .default
            case "false", "no", "off": return RunRetryPolicy(onEvents: [])
            default: throw fail(node, "'retry' of '\(name)' must be a mapping with 'on_events' and 'duration', or true/false")
            }
        }
        guard let mapping = node.mapping else {
            throw fail(node, "'retry' of '\(name)' must be a mapping with 'on_events' and 'duration', or true/false")
        }
        var policy = RunRetryPolicy(onEvents: [])
        var sawEvents = false
        for (keyNode, value) in mapping {
            switch keyNode.scalar?.string ?? "" {
            case "on_events", "on-events":
                sawEvents = true
                guard let items = value.sequence else { throw fail(value, "'retry: on_events' must be a list") }
                for item in items {
                    let word = item.scalar?.string ?? ""
                    guard let event = Event(rawValue: word == "no_capacity" ? "no-capacity" : word) else {
                        throw fail(item, "'retry: on_events' takes interruption, no-capacity and error, not '\(word)'")
                    }
                    if !policy.onEvents.contains(event) { policy.onEvents.append(event) }
                }
            case "duration":
                guard let text = value.scalar?.string, let seconds = Self.seconds(text) else {
                    throw fail(value, "'retry: duration' must be a duration such as 90s, 30m, 1h or 2d")
                }
                policy.duration = seconds
            default:
                throw fail(keyNode, "'retry: \(keyNode.scalar?.string ?? "?")' is not supported by this dstack; it takes on_events and duration")
            }
        }
        if !sawEvents { policy.onEvents = RunRetryPolicy.default.onEvents }
        return policy
    }

    /// `90s`, `30m`, `1h`, `2d`, `1w`, or a bare number of seconds; more than 0.
    static func seconds(_ text: String) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix { $0.isNumber }
        guard !digits.isEmpty, let value = Double(digits), value > 0 else { return nil }
        let factor: Double
        switch trimmed.dropFirst(digits.count) {
        case "", "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3600
        case "d": factor = 86400
        case "w": factor = 604800
        default: return nil
        }
        return value * factor
    }

    /// Reads what `storedText` wrote; nil for text that is not a policy.
    public init?(storedText text: String) {
        guard let node = try? Yams.compose(yaml: text), let mapping = node.mapping else { return nil }
        let events = mapping["on_events"]?.sequence?.compactMap { $0.scalar.flatMap { Event(rawValue: $0.string) } } ?? []
        self.init(onEvents: events, duration: mapping["duration"]?.scalar.flatMap { Double($0.string) })
    }
}
