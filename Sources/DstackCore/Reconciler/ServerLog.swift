import Foundation

/// The server's log: one line per event, each starting with its UTC time (ISO 8601, to
/// the second) and naming the runs and instances it is about, so an operator can grep
/// one run's or one instance's history out of it.
public enum ServerLog {
    public static func line(_ message: String, at date: Date = Date()) -> String {
        "\(timestamp(date)) \(message)"
    }

    public static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}

extension Reconciler.Report {
    /// What a pass did, with the IDs of the runs, launches and instances involved; nil
    /// for a pass that did nothing.
    public var logSummary: String? {
        var parts: [String] = []
        var described: [String: Int] = [:]
        for token in launchedFor.keys.sorted() {
            let runs = launchedFor[token] ?? []
            let type = launchedTypes[token] ?? "?"
            described[type, default: 0] += runs.count
            parts.append("requested \(runs.count) \(type) for \(runs.joined(separator: ", ")) (launch \(token))")
        }
        // Launches sent again after a crash belong to no run of this pass.
        for (type, count) in launched.sorted(by: { $0.key < $1.key }) where count > described[type, default: 0] {
            parts.append("requested \(count - described[type, default: 0]) \(type) (a launch journaled before a restart)")
        }
        for assignment in assignments { parts.append("assigned \(assignment.runID) to \(assignment.instanceID)") }
        if assignments.isEmpty, assigned > 0 { parts.append("assigned \(assigned) run\(assigned == 1 ? "" : "s")") }
        for token in gaveUp.keys.sorted() { parts.append("gave up launch \(token): \(gaveUp[token]!)") }
        for token in heldRequests.keys.sorted() { parts.append("cancelled the held spot request of launch \(token): \(heldRequests[token]!)") }
        for instance in interrupted.keys.sorted() { parts.append("instance \(instance) interrupted: \(interrupted[instance]!)") }
        if !terminated.isEmpty { parts.append("terminated \(terminated.joined(separator: ", "))") }
        if !swept.isEmpty { parts.append("swept unknown \(swept.joined(separator: ", "))") }
        if !retried.isEmpty { parts.append("retrying \(retried.joined(separator: ", "))") }
        for run in failedRuns.keys.sorted() { parts.append("run \(run) failed: \(failedRuns[run]!)") }
        parts += errors
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}
