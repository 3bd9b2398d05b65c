import Foundation

/// A run waiting for an instance, as the planner sees it.
public struct PlannerRun: Sendable, Equatable {
    public var id: String
    public var requirements: ResourceRequirements

    public init(id: String, requirements: ResourceRequirements) {
        self.id = id
        self.requirements = requirements
    }
}

/// An instance, as the planner sees it.
public struct PlannerInstance: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Requested, its runner not registered yet.
        case provisioning
        /// Registered and free since the date.
        case idle(since: Date)
        /// Running a run.
        case busy(runID: String)
    }

    public var id: String
    public var instanceType: String
    public var phase: Phase
    public var launchedAt: Date
    /// The root disk it was launched with (GB); nil: the image's default, which no
    /// run that asks for a disk is placed on.
    public var diskGB: Int?

    public init(id: String, instanceType: String, phase: Phase, launchedAt: Date, diskGB: Int? = nil) {
        self.id = id
        self.instanceType = instanceType
        self.phase = phase
        self.launchedAt = launchedAt
        self.diskGB = diskGB
    }

    /// Whether a run needing `diskGB` (nil: any) may go on this instance.
    static func disk(_ instanceDisk: Int?, fits runDisk: Int?) -> Bool {
        guard let runDisk else { return true }
        return (instanceDisk ?? 0) >= runDisk
    }
}

/// Instances asked for by hand (`dstack instances request`), to warm runners up before
/// a batch of runs: the planner launches them only within the type's max.
public struct PlannerInstanceRequest: Sendable, Equatable {
    public var id: String
    public var instanceType: String
    public var count: Int

    public init(id: String, instanceType: String, count: Int) {
        self.id = id
        self.instanceType = instanceType
        self.count = count
    }
}

/// Everything the planner decides from. The planner is a pure function of this.
public struct PlannerInput: Sendable {
    /// Rules: instance type → max. Types not here are not allowed.
    public var rules: [String: Int]
    public var enabled: Bool
    /// Pending runs, oldest first: the planner places them in this order.
    public var pendingRuns: [PlannerRun]
    public var instances: [PlannerInstance]
    /// Facts for the allowed types, from the provider.
    public var facts: [String: InstanceTypeFacts]
    /// Types that just reported no capacity: used only when nothing else fits.
    public var unavailableTypes: Set<String>
    public var now: Date
    public var idleTimeout: TimeInterval
    /// Manual launches waiting for a pass, oldest first; placed after the runs.
    public var instanceRequests: [PlannerInstanceRequest]

    public init(rules: [String: Int], enabled: Bool = true, pendingRuns: [PlannerRun] = [], instances: [PlannerInstance] = [],
                facts: [String: InstanceTypeFacts] = [:], unavailableTypes: Set<String> = [], now: Date = Date(),
                idleTimeout: TimeInterval = 300, instanceRequests: [PlannerInstanceRequest] = []) {
        self.instanceRequests = instanceRequests
        self.rules = rules
        self.enabled = enabled
        self.pendingRuns = pendingRuns
        self.instances = instances
        self.facts = facts
        self.unavailableTypes = unavailableTypes
        self.now = now
        self.idleTimeout = idleTimeout
    }
}

/// What the planner wants done.
public struct Plan: Sendable, Equatable {
    public struct Launch: Sendable, Equatable {
        public var instanceType: String
        public var count: Int
        /// The runs this launch is for, in order.
        public var forRuns: [String]
        /// The manual request this launch carries out, if it is one.
        public var forRequest: String?

        public init(instanceType: String, count: Int, forRuns: [String], forRequest: String? = nil) {
            self.instanceType = instanceType
            self.count = count
            self.forRuns = forRuns
            self.forRequest = forRequest
        }
    }

    public struct Assignment: Sendable, Equatable {
        public var runID: String
        public var instanceID: String

        public init(runID: String, instanceID: String) {
            self.runID = runID
            self.instanceID = instanceID
        }
    }

    public struct Termination: Sendable, Equatable {
        public enum Reason: String, Sendable, Equatable {
            case idleTimeout = "idle for longer than the idle timeout"
            case notAllowed = "no rule allows its type any more"
            case overMax = "its type is over its max"
            case disabled = "autoscaling is disabled"
        }

        public var instanceID: String
        public var reason: Reason
        /// The run it was running, which goes back to pending.
        public var interruptedRunID: String?

        public init(instanceID: String, reason: Reason, interruptedRunID: String?) {
            self.instanceID = instanceID
            self.reason = reason
            self.interruptedRunID = interruptedRunID
        }
    }

    public var launches: [Launch] = []
    public var assignments: [Assignment] = []
    public var terminations: [Termination] = []
    /// Why each run that stays pending is waiting, in words a user can act on.
    public var waiting: [String: String] = [:]
    /// Runs that will take an instance already being provisioned.
    public var claimedProvisioning: [String: String] = [:]
    /// Manual requests that cannot be carried out, with why (they are refused, not kept).
    public var refusedRequests: [String: String] = [:]

    public init() {}

    /// True when the plan changes nothing in the world (reasons are not actions).
    public var hasNoActions: Bool { launches.isEmpty && assignments.isEmpty && terminations.isEmpty }
}
