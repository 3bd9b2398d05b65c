import Foundation

/// The spot prices of one instance type in one zone over time, as the cloud's history
/// gave them: each price holds from its change until the next. Before the first change
/// known, the first price is assumed (the history dstack saw starts there).
public struct PriceSchedule: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public var at: Date
        public var perHour: MicroDollars

        public init(at: Date, perHour: MicroDollars) {
            self.at = at
            self.perHour = perHour
        }
    }

    /// Sorted by time; never empty.
    public let changes: [Change]

    /// nil without any change: an unknown price is not zero.
    public init?(_ changes: [Change]) {
        guard !changes.isEmpty else { return nil }
        self.changes = changes.sorted { $0.at < $1.at }
    }

    /// What an instance costs from `start` to `end`, each price for the part of the span it
    /// held, rounded once to the nearest millionth of a dollar.
    public func cost(from start: Date, to end: Date) -> MicroDollars {
        MicroDollars(micros: Self.rounded(weight(from: start, to: end)))
    }

    /// Micro-dollars per hour times milliseconds, summed over the span: exact integers, so
    /// spans can be added up before the one rounding.
    func weight(from start: Date, to end: Date) -> Int64 {
        let (from, to) = (Self.millis(start), Self.millis(end))
        guard to > from else { return 0 }
        var total: Int64 = 0
        for (index, change) in changes.enumerated() {
            let holdsFrom = index == 0 ? Int64.min : Self.millis(change.at)
            let holdsTo = index + 1 < changes.count ? Self.millis(changes[index + 1].at) : Int64.max
            let overlap = Swift.min(to, holdsTo) - Swift.max(from, holdsFrom)
            if overlap > 0 { total += overlap * change.perHour.micros }
        }
        return total
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Micro-dollar-milliseconds per hour to micro-dollars, half away from zero.
    static func rounded(_ weight: Int64) -> Int64 {
        let hour: Int64 = 3_600_000
        return weight >= 0 ? (weight + hour / 2) / hour : -((-weight + hour / 2) / hour)
    }
}

/// One instance's life as the cost model sees it: from the cloud's launch (or fulfilment)
/// time to its termination, or now while it runs.
public struct InstanceLife: Sendable, Equatable {
    public var id: String
    public var instanceType: String
    public var zone: String?
    public var start: Date
    public var end: Date?

    public init(id: String, instanceType: String, zone: String?, start: Date, end: Date?) {
        self.id = id
        self.instanceType = instanceType
        self.zone = zone
        self.start = start
        self.end = end
    }
}

/// A span of an instance's life given to a run: from the assignment to the run's release
/// (or the instance's end, or now).
public struct BusySpan: Sendable, Equatable {
    public var runID: String
    public var instanceID: String
    public var start: Date
    public var end: Date?

    public init(runID: String, instanceID: String, start: Date, end: Date?) {
        self.runID = runID
        self.instanceID = instanceID
        self.start = start
        self.end = end
    }
}

/// Where the money went over a window.
public struct CostBreakdown: Sendable, Equatable {
    /// Each priced instance's whole cost (busy and idle) within the window.
    public var instances: [String: MicroDollars] = [:]
    /// Each run's cost: its busy spans on priced instances, every attempt summed.
    public var runs: [String: MicroDollars] = [:]
    /// Each instance type's idle and boot time: what its rule spent beyond its runs.
    public var rules: [String: MicroDollars] = [:]
    /// Instances with no price known (a provider without prices, a zone never priced).
    public var unpriced: Set<String> = []

    public init() {}

    /// Every priced instance's cost: the runs' and the rules' shares together.
    public var total: MicroDollars { instances.values.reduce(.zero, +) }
}

/// The cost model: each instance costs its spot price over its life, piecewise from the
/// price history of its type and zone; the time a run held it goes to the run, the rest
/// (booting, idle, draining) to the rule of its type. Pure: state supplies the inputs.
public enum CostModel {
    public struct PriceKey: Sendable, Hashable {
        public var instanceType: String
        public var zone: String

        public init(instanceType: String, zone: String) {
            self.instanceType = instanceType
            self.zone = zone
        }
    }

    /// The costs within `window` (nil: all time), as of `now` (open lives and spans end
    /// there).
    public static func breakdown(lives: [InstanceLife], busy: [BusySpan], prices: [PriceKey: PriceSchedule],
                                 window: DateInterval? = nil, now: Date) -> CostBreakdown {
        var result = CostBreakdown()
        let spansByInstance = Dictionary(grouping: busy, by: \.instanceID)
        for life in lives {
            guard let zone = life.zone, let schedule = prices[PriceKey(instanceType: life.instanceType, zone: zone)] else {
                result.unpriced.insert(life.id)
                continue
            }
            let spans = spansByInstance[life.id] ?? []
            for span in spans where result.runs[span.runID] == nil { result.runs[span.runID] = .zero }
            guard let lived = clip(life.start, life.end, to: window, now: now) else {
                result.instances[life.id] = result.instances[life.id] ?? .zero
                continue
            }
            let whole = schedule.weight(from: lived.start, to: lived.end)
            var busyWeight: Int64 = 0
            for span in spans {
                guard let held = clip(span.start, span.end, to: DateInterval(start: lived.start, end: lived.end), now: now) else {
                    continue
                }
                let weight = schedule.weight(from: held.start, to: held.end)
                busyWeight += weight
                result.runs[span.runID, default: .zero] += MicroDollars(micros: PriceSchedule.rounded(weight))
            }
            let total = MicroDollars(micros: PriceSchedule.rounded(whole))
            result.instances[life.id] = total
            let idle = MicroDollars(micros: PriceSchedule.rounded(Swift.max(0, whole - busyWeight)))
            result.rules[life.instanceType, default: .zero] += idle
        }
        return result
    }

    /// [start, end or now] within the window; nil when nothing of it is inside.
    static func clip(_ start: Date, _ end: Date?, to window: DateInterval?, now: Date) -> (start: Date, end: Date)? {
        var from = start
        var to = Swift.min(end ?? now, now)
        if let window {
            from = Swift.max(from, window.start)
            to = Swift.min(to, window.end)
        }
        return to > from ? (from, to) : nil
    }

    /// The two windows `dstack autoscale info` reports: today (UTC, from midnight) and the
    /// last 30 days, both up to `now`.
    public static func today(_ now: Date) -> DateInterval {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return DateInterval(start: calendar.startOfDay(for: now), end: now)
    }

    public static func last30Days(_ now: Date) -> DateInterval {
        DateInterval(start: now.addingTimeInterval(-30 * 86_400), end: now)
    }
}
