import Foundation

/// How far a run has come on its way to running, in the words `dstack run` and
/// `dstack ps` show: spot request open (with the cloud's status code), fulfilled (with
/// the instance ID), booting, runner registered, running. Computed from the cloud's list
/// and registrations; nothing here knows a vendor.
public enum RunStage {
    public static let booting = "booting"
    public static let runnerRegistered = "runner registered"
    public static let running = "running"

    public static func spotRequestOpen(statusCode: String?) -> String {
        statusCode.map { "spot request open (\($0))" } ?? "spot request open"
    }

    public static func fulfilled(instanceID: String) -> String { "fulfilled (\(instanceID))" }

    /// The stage an unregistered instance (or open spot request) of a launch shows.
    public static func stage(of item: ManagedInstance) -> String {
        if item.isUnfulfilledRequest { return spotRequestOpen(statusCode: item.spotRequestStatus) }
        return item.state == .pending ? fulfilled(instanceID: item.id) : booting
    }

    /// Shares one launch's unregistered items among the runs waiting on it, in order:
    /// the first run gets the furthest item, and runs beyond the items share the last.
    public static func stages(runs: [String], items: [ManagedInstance]) -> [String: String] {
        let ordered = items.filter { $0.state.isLive }.sorted { progress($0) != progress($1) ? progress($0) > progress($1) : $0.id < $1.id }
        guard let last = ordered.last else { return [:] }
        var stages: [String: String] = [:]
        for (index, run) in runs.enumerated() {
            stages[run] = stage(of: index < ordered.count ? ordered[index] : last)
        }
        return stages
    }

    private static func progress(_ item: ManagedInstance) -> Int {
        if item.isUnfulfilledRequest { return 0 }
        return item.state == .pending ? 1 : 2
    }
}
