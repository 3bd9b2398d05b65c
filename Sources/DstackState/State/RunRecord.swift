import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// A run's lifecycle: submitted → pending → provisioning → running → done, failed,
/// stopped, or interrupted (retried as pending while attempts remain).
public enum RunStatus: String, Sendable, Equatable, CaseIterable {
    case submitted, pending, provisioning, running, done, failed, stopped, interrupted

    public var isFinished: Bool {
        switch self {
        case .done, .failed, .stopped, .interrupted: return true
        default: return false
        }
    }

    /// Waiting for an instance: what the planner places.
    public var isWaiting: Bool { self == .submitted || self == .pending || self == .provisioning }
}

public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var workflow: String?
    public var commands: [String]
    public var requirements: ResourceRequirements
    /// Set in every command's environment.
    public var environment: [String: String] = [:]
    /// The project's code shipped with the run, if any.
    public var code: ShippedCode? = nil
    public var status: RunStatus
    /// Why it waits, or how it ended, in words.
    public var reason: String?
    public var instanceID: String?
    /// 0 before the first start; 1 for the first attempt, and so on.
    public var attempt: Int
    public var exitCode: Int?
    public var stopRequested: Bool
    public var submittedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// How far a waiting or starting run has come (`spot request open (...)`, `booting`,
    /// `runner registered`, `running`), as the reconciler last saw it.
    public var stage: String? = nil
    /// The API user who submitted it; nil for runs from before users existed.
    public var submittedBy: String? = nil
    /// Attempts lost to an interruption, and the signal of the last one (`spot
    /// interruption notice, terminate at 12:04:31Z`, `spot request status ...`).
    public var interruptions: Int = 0
    public var interruptedBy: String? = nil
    /// Its `retry:` policy; nil: `RunRetryPolicy.default`.
    public var retryPolicy: RunRetryPolicy? = nil
    /// Attempts retried because the commands failed (`retry: on_events: [error]`).
    public var errorRetries: Int = 0
}

public struct LogEntry: Sendable, Equatable {
    public enum Stream: String, Sendable { case stdout, stderr, system }
    public var seq: Int
    public var attempt: Int
    public var stream: Stream
    public var text: String
    public var at: Date
}

extension ResourceRequirements {
    var json: JSONValue {
        var object = JSONObject()
        if let instanceType { object["instance_type"] = .string(instanceType) }
        if let cpus { object["cpu"] = .int(Int64(cpus)) }
        if let memoryMiB { object["memory_mib"] = .int(Int64(memoryMiB)) }
        if let gpus { object["gpu"] = .int(Int64(gpus)) }
        if let diskGB { object["disk_gb"] = .int(Int64(diskGB)) }
        return .object(object)
    }
}
