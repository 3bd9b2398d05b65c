import DstackWire
import Foundation

/// What a run needs, as `dstack run` flags or a workflow's `resources` give it.
public struct RequirementsPayload: Codable, Sendable, Equatable {
    public var instanceType: String?
    public var cpu: Int?
    public var memoryMib: Int?
    public var gpu: Int?
    public var diskGb: Int?

    public init(instanceType: String? = nil, cpu: Int? = nil, memoryMib: Int? = nil, gpu: Int? = nil, diskGb: Int? = nil) {
        self.instanceType = instanceType
        self.cpu = cpu
        self.memoryMib = memoryMib
        self.gpu = gpu
        self.diskGb = diskGb
    }
}

public struct RunSubmission: Codable, Sendable, Equatable {
    public var workflow: String?
    public var commands: [String]
    public var requirements: RequirementsPayload
    public var environment: [String: String]
    /// The code archive uploaded first (`PUT /api/v1/code/{sha256}`), if any.
    public var codeSha256: String?
    public var codeSize: Int?
    /// Queue the run even when no allowed type can ever fit it.
    public var wait: Bool
    /// Paths the runner uploads after the commands end (optional in the JSON).
    public var artifacts: [String]
    /// Runs whose artifacts the working directory starts with (optional in the JSON).
    public var deps: [DepPayload]
    /// The workflow's `retry:`; absent: retry interruptions only.
    public var retry: RetryPayload?

    public init(workflow: String?, commands: [String], requirements: RequirementsPayload, environment: [String: String],
                codeSha256: String?, codeSize: Int?, wait: Bool, artifacts: [String] = [], deps: [DepPayload] = [],
                retry: RetryPayload? = nil) {
        self.retry = retry
        self.workflow = workflow
        self.commands = commands
        self.requirements = requirements
        self.environment = environment
        self.codeSha256 = codeSha256
        self.codeSize = codeSize
        self.wait = wait
        self.artifacts = artifacts
        self.deps = deps
    }

    private enum CodingKeys: String, CodingKey {
        case workflow, commands, requirements, environment, codeSha256, codeSize, wait, artifacts, deps, retry
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        workflow = try container.decodeIfPresent(String.self, forKey: .workflow)
        commands = try container.decode([String].self, forKey: .commands)
        requirements = try container.decode(RequirementsPayload.self, forKey: .requirements)
        environment = try container.decode([String: String].self, forKey: .environment)
        codeSha256 = try container.decodeIfPresent(String.self, forKey: .codeSha256)
        codeSize = try container.decodeIfPresent(Int.self, forKey: .codeSize)
        wait = try container.decode(Bool.self, forKey: .wait)
        artifacts = try container.decodeIfPresent([String].self, forKey: .artifacts) ?? []
        deps = try container.decodeIfPresent([DepPayload].self, forKey: .deps) ?? []
        retry = try container.decodeIfPresent(RetryPayload.self, forKey: .retry)
    }
}

public struct RunInfo: Codable, Sendable, Equatable {
    public var id: String
    public var workflow: String?
    public var user: String?
    public var status: String
    public var reason: String?
    public var stage: String?
    public var instanceId: String?
    public var attempt: Int
    public var exitCode: Int?
    public var submittedAt: Date
    public var finishedAt: Date?
    /// The run's artifacts: how many files, their total size, and whether they are
    /// complete; null for a run that declares none.
    public var artifacts: ArtifactSummary?
    /// Attempts lost to the cloud taking the instance back, and the signal of the last
    /// one; absent from a server from before them.
    public var interruptions: Int?
    public var interruptedBy: String?
    /// What the run has cost so far, every attempt on every instance summed: the spot
    /// price of the time it held an instance, as exact decimal US dollars with six places
    /// ("0.012345"). Absent when no price is known (it has not run, or ran where the
    /// provider reports no prices).
    public var costDollars: String?

    public init(id: String, workflow: String?, user: String?, status: String, reason: String?, stage: String?,
                instanceId: String?, attempt: Int, exitCode: Int?, submittedAt: Date, finishedAt: Date?,
                artifacts: ArtifactSummary? = nil, interruptions: Int? = nil, interruptedBy: String? = nil,
                costDollars: String? = nil) {
        self.costDollars = costDollars
        self.interruptions = interruptions
        self.interruptedBy = interruptedBy
        self.id = id
        self.workflow = workflow
        self.user = user
        self.status = status
        self.reason = reason
        self.stage = stage
        self.instanceId = instanceId
        self.attempt = attempt
        self.exitCode = exitCode
        self.submittedAt = submittedAt
        self.finishedAt = finishedAt
        self.artifacts = artifacts
    }

    /// done, failed, stopped or interrupted: it will not change again.
    public var isFinished: Bool { ["done", "failed", "stopped", "interrupted"].contains(status) }
}

public struct LogLine: Codable, Sendable, Equatable {
    public var seq: Int
    public var attempt: Int
    /// stdout, stderr, or system (dstack's own lines about the run).
    public var stream: String
    public var text: String

    public init(seq: Int, attempt: Int, stream: String, text: String) {
        self.seq = seq
        self.attempt = attempt
        self.stream = stream
        self.text = text
    }
}

/// Log lines after a sequence number, and the run as it is now.
public struct LogPage: Codable, Sendable, Equatable {
    public var run: RunInfo
    public var entries: [LogLine]

    public init(run: RunInfo, entries: [LogLine]) {
        self.run = run
        self.entries = entries
    }
}

public struct StopReply: Codable, Sendable, Equatable {
    public var run: RunInfo
    public var alreadyFinished: Bool

    public init(run: RunInfo, alreadyFinished: Bool) {
        self.run = run
        self.alreadyFinished = alreadyFinished
    }
}

/// A workflow's `retry:`: `on_events` (interruption, no-capacity, error) and `duration`
/// in seconds (absent: no limit but the server's --max-retries).
public struct RetryPayload: Codable, Sendable, Equatable {
    public var onEvents: [String]
    public var duration: Int?

    public init(onEvents: [String], duration: Int?) {
        self.onEvents = onEvents
        self.duration = duration
    }
}
