import Foundation

/// The routes the web page uses besides the CLI's, and `GET /metrics`.
extension APIPaths {
    /// POST a token to sign in (the reply sets the session cookie); DELETE to sign out.
    public static let session = prefix + "/session"
    /// Rules, instances and prices from state and the cloud's last list: no cloud call.
    public static let overview = prefix + "/overview"
    /// The fleet's timeline, newest first.
    public static let events = prefix + "/events"
    /// Server-sent events: one `change` event whenever runs, instances, rules or the
    /// timeline change, so the page fetches again.
    public static let changes = prefix + "/changes"
    /// Prometheus's text format (outside `/api/v1`, where scrapers look).
    public static let metrics = "/metrics"
}

public struct SessionRequest: Codable, Sendable, Equatable {
    public var token: String

    public init(token: String) {
        self.token = token
    }
}

/// One rule as the page shows it: the spot price and spend where the provider reports prices.
public struct RuleOverview: Codable, Sendable, Equatable {
    public var instanceType: String
    public var max: Int
    public var instances: Int
    /// Dollars an hour for one instance; nil when the provider reports no price.
    public var pricePerHour: Double?
    /// What the rule's instances cost idle or booting today (UTC) and over the last 30
    /// days (decimal dollars, six places, as `RuleStatus` carries them); nil when no price
    /// is known for the type.
    public var spendTodayDollars: String?
    public var spendLast30DaysDollars: String?

    public init(instanceType: String, max: Int, instances: Int, pricePerHour: Double? = nil, spendTodayDollars: String? = nil,
                spendLast30DaysDollars: String? = nil) {
        self.instanceType = instanceType
        self.max = max
        self.instances = instances
        self.pricePerHour = pricePerHour
        self.spendTodayDollars = spendTodayDollars
        self.spendLast30DaysDollars = spendLast30DaysDollars
    }
}

public struct InstanceOverview: Codable, Sendable, Equatable {
    public var id: String
    public var instanceType: String
    public var zone: String?
    public var state: String
    public var runId: String?
    public var launchTime: Date?
    public var idleSince: Date?
    /// What it has cost so far, from the cost model (decimal dollars, six places); nil
    /// when no price is known for its type and zone.
    public var costDollars: String?

    public init(id: String, instanceType: String, zone: String? = nil, state: String, runId: String? = nil,
                launchTime: Date? = nil, idleSince: Date? = nil, costDollars: String? = nil) {
        self.id = id
        self.instanceType = instanceType
        self.zone = zone
        self.state = state
        self.runId = runId
        self.launchTime = launchTime
        self.idleSince = idleSince
        self.costDollars = costDollars
    }
}

public struct OverviewReply: Codable, Sendable, Equatable {
    public var provider: String?
    public var enabled: Bool
    /// When the cloud's list the instances come from was read; nil before the first pass.
    public var listedAt: Date?
    public var now: Date
    public var rules: [RuleOverview]
    public var instances: [InstanceOverview]

    public init(provider: String?, enabled: Bool, listedAt: Date?, now: Date, rules: [RuleOverview], instances: [InstanceOverview]) {
        self.provider = provider
        self.enabled = enabled
        self.listedAt = listedAt
        self.now = now
        self.rules = rules
        self.instances = instances
    }
}

public struct EventInfo: Codable, Sendable, Equatable {
    public var id: Int
    public var at: Date
    /// launch, fulfilment, interruption, termination, sweep, requeue, gave_up, run_failed, cloud_failure.
    public var kind: String
    public var subject: String
    public var detail: String

    public init(id: Int, at: Date, kind: String, subject: String, detail: String) {
        self.id = id
        self.at = at
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }
}

public struct EventsReply: Codable, Sendable, Equatable {
    public var events: [EventInfo]

    public init(events: [EventInfo]) {
        self.events = events
    }
}
