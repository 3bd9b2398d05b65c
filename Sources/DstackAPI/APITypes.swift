import DstackWire
import Foundation

// The `/api/v1` payloads. Swift names are camelCase; on the wire they are snake_case
// (the project's JSONValue coder converts). Optional values travel as null.

public enum UserRole: String, Codable, Sendable, CaseIterable {
    /// Configures vendors, manages rules, instances and users, sees every run.
    case admin
    /// Submits runs, and sees, stops and reads the logs of its own.
    case user
}

public struct UserInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: UserRole
    public var createdAt: Date

    public init(name: String, role: UserRole, createdAt: Date) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
    }
}

public struct NewUserRequest: Codable, Sendable, Equatable {
    public var name: String
    public var role: UserRole

    public init(name: String, role: UserRole) {
        self.name = name
        self.role = role
    }
}

/// The only reply that ever carries a user's token: it is shown once.
public struct NewUserReply: Codable, Sendable, Equatable {
    public var user: UserInfo
    public var token: String

    public init(user: UserInfo, token: String) {
        self.user = user
        self.token = token
    }
}

public struct HealthReply: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    /// Whether this replica runs the reconcile loop.
    public var leader: Bool
    public var database: String

    public init(status: String, version: String, leader: Bool, database: String) {
        self.status = status
        self.version = version
        self.leader = leader
        self.database = database
    }
}

/// `{"error": "one sentence"}`: every refusal.
public struct APIErrorReply: Codable, Sendable, Equatable {
    public var error: String

    public init(error: String) {
        self.error = error
    }
}

// MARK: vendors

/// One field of a vendor's configure form, with its current value (secrets masked).
public struct VendorField: Codable, Sendable, Equatable {
    public var key: String
    public var label: String
    public var secret: Bool
    public var optional: Bool
    public var prompted: Bool
    public var defaultValue: String?
    public var help: String
    /// What is saved now; a secret comes back masked, never whole.
    public var current: String?
    /// What the server would use when nothing is saved, from its own environment or
    /// profile (AWS keys); masked like `current`. Never saved by an Enter.
    public var fallback: String?

    public init(key: String, label: String, secret: Bool, optional: Bool, prompted: Bool, defaultValue: String?,
                help: String, current: String?, fallback: String? = nil) {
        self.key = key
        self.label = label
        self.secret = secret
        self.optional = optional
        self.prompted = prompted
        self.defaultValue = defaultValue
        self.help = help
        self.current = current
        self.fallback = fallback
    }
}

public struct VendorDescription: Codable, Sendable, Equatable {
    public var vendor: String
    public var displayName: String
    public var active: Bool
    public var fields: [VendorField]

    public init(vendor: String, displayName: String, active: Bool, fields: [VendorField]) {
        self.vendor = vendor
        self.displayName = displayName
        self.active = active
        self.fields = fields
    }
}

/// New values for some fields; fields left out keep what is saved.
public struct ConfigureVendorRequest: Codable, Sendable, Equatable {
    public var settings: [String: String]
    /// Check the settings against the cloud before saving (the default).
    public var verify: Bool

    public init(settings: [String: String], verify: Bool) {
        self.settings = settings
        self.verify = verify
    }
}

// MARK: autoscale

public struct RuleStatus: Codable, Sendable, Equatable {
    public var instanceType: String
    public var max: Int
    public var instances: Int
    /// What an instance of this type does on a rebalance recommendation: ignore, drain
    /// or replace; absent from a server from before it.
    public var onRebalance: String?
    /// The current spot price (USD per hour) in the zone the next launch would go to,
    /// and that zone; absent when the cloud gives no prices or zones.
    public var spotPrice: Double?
    public var zone: String?
    /// What this rule's instances cost while idle or booting (busy time is its runs'
    /// cost), today since 00:00 UTC and over the last 30 days: exact decimal US dollars
    /// with six places ("0.012345"), from the cost model. Absent when no price is known
    /// for the type (a provider without prices) or from a server from before it.
    public var spendTodayDollars: String?
    public var spendLast30DaysDollars: String?

    public init(instanceType: String, max: Int, instances: Int, onRebalance: String? = nil, spotPrice: Double? = nil,
                zone: String? = nil, spendTodayDollars: String? = nil, spendLast30DaysDollars: String? = nil) {
        self.spendTodayDollars = spendTodayDollars
        self.spendLast30DaysDollars = spendLast30DaysDollars
        self.onRebalance = onRebalance
        self.spotPrice = spotPrice
        self.zone = zone
        self.instanceType = instanceType
        self.max = max
        self.instances = instances
    }
}

public struct AutoscaleInfo: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var provider: String?
    public var rules: [RuleStatus]

    public init(enabled: Bool, provider: String?, rules: [RuleStatus]) {
        self.enabled = enabled
        self.provider = provider
        self.rules = rules
    }
}

public struct AllowRequest: Codable, Sendable, Equatable {
    public var max: Int
    /// ignore, drain or replace; absent: the rule keeps its policy (a new rule: ignore).
    public var onRebalance: String?

    public init(max: Int, onRebalance: String? = nil) {
        self.max = max
        self.onRebalance = onRebalance
    }
}

/// An instance a rule change or a command shut down, and the run it cut off.
public struct ShutDownInstance: Codable, Sendable, Equatable {
    public var id: String
    public var instanceType: String
    /// The run it had, now back in the queue (the retry does not count).
    public var requeuedRun: String?

    public init(id: String, instanceType: String, requeuedRun: String?) {
        self.id = id
        self.instanceType = instanceType
        self.requeuedRun = requeuedRun
    }
}

/// What the server's pass did after a change: the terminations it sent, and those it
/// could not send yet (the server keeps trying).
public struct ShutdownReport: Codable, Sendable, Equatable {
    public var shutDown: [ShutDownInstance]
    public var pending: [String]
    /// Why `pending` is not empty: the cloud's error, in one sentence.
    public var pendingReason: String?

    public init(shutDown: [ShutDownInstance] = [], pending: [String] = [], pendingReason: String? = nil) {
        self.shutDown = shutDown
        self.pending = pending
        self.pendingReason = pendingReason
    }
}

public struct AllowReply: Codable, Sendable, Equatable {
    public var instanceType: String
    public var previousMax: Int
    public var newMax: Int
    public var shutdown: ShutdownReport

    public init(instanceType: String, previousMax: Int, newMax: Int, shutdown: ShutdownReport) {
        self.instanceType = instanceType
        self.previousMax = previousMax
        self.newMax = newMax
        self.shutdown = shutdown
    }
}

public struct ClearReply: Codable, Sendable, Equatable {
    public var removedRules: Int
    public var shutdown: ShutdownReport

    public init(removedRules: Int, shutdown: ShutdownReport) {
        self.removedRules = removedRules
        self.shutdown = shutdown
    }
}

public struct ToggleReply: Codable, Sendable, Equatable {
    public var changed: Bool
    public var shutdown: ShutdownReport

    public init(changed: Bool, shutdown: ShutdownReport) {
        self.changed = changed
        self.shutdown = shutdown
    }
}

// MARK: instances

public struct InstanceInfo: Codable, Sendable, Equatable {
    public var id: String
    public var instanceType: String
    public var state: String
    public var runnerRegistered: Bool
    /// Up, but its runner has not registered yet (booting, or unable to reach the server).
    public var awaitingRunner: Bool
    public var launchTime: Date?
    public var spotRequestId: String?
    public var runId: String?
    public var idleSince: Date?

    public init(id: String, instanceType: String, state: String, runnerRegistered: Bool, awaitingRunner: Bool,
                launchTime: Date?, spotRequestId: String?, runId: String?, idleSince: Date?) {
        self.id = id
        self.instanceType = instanceType
        self.state = state
        self.runnerRegistered = runnerRegistered
        self.awaitingRunner = awaitingRunner
        self.launchTime = launchTime
        self.spotRequestId = spotRequestId
        self.runId = runId
        self.idleSince = idleSince
    }
}

public struct InstancesReply: Codable, Sendable, Equatable {
    public var provider: String
    public var instances: [InstanceInfo]

    public init(provider: String, instances: [InstanceInfo]) {
        self.provider = provider
        self.instances = instances
    }
}

public struct InstanceRequest: Codable, Sendable, Equatable {
    public var instanceType: String
    public var count: Int

    public init(instanceType: String, count: Int) {
        self.instanceType = instanceType
        self.count = count
    }
}

public struct InstanceRequestReply: Codable, Sendable, Equatable {
    public var instanceType: String
    public var count: Int
    public var spotRequestIds: [String]
    public var instanceIds: [String]

    public init(instanceType: String, count: Int, spotRequestIds: [String], instanceIds: [String]) {
        self.instanceType = instanceType
        self.count = count
        self.spotRequestIds = spotRequestIds
        self.instanceIds = instanceIds
    }
}

public struct TerminateRequest: Codable, Sendable, Equatable {
    public var ids: [String]

    public init(ids: [String]) {
        self.ids = ids
    }
}

public struct TerminateReply: Codable, Sendable, Equatable {
    public var terminated: [ShutDownInstance]

    public init(terminated: [ShutDownInstance]) {
        self.terminated = terminated
    }
}
