/// Which instances to shut down when there are more than the rules allow.
/// Pure functions: the caller lists, this decides, the caller terminates.
public enum ExcessInstances {
    /// The live instances of `instanceType` beyond `max`: idle ones before busy ones,
    /// and within each, newest first. An open spot request with no launch time counts
    /// as the newest: it has done no work yet.
    public static func toShutDown(_ instances: [ManagedInstance], instanceType: String, max: Int,
                                  busy: Set<String> = []) -> [ManagedInstance] {
        let live = instances.filter { $0.instanceType == instanceType && $0.state.isLive }
        guard live.count > max else { return [] }
        let newestFirst = live.sorted { lhs, rhs in
            let (lhsBusy, rhsBusy) = (busy.contains(lhs.id), busy.contains(rhs.id))
            if lhsBusy != rhsBusy { return !lhsBusy }
            switch (lhs.launchTime, rhs.launchTime) {
            case (nil, nil): return lhs.id > rhs.id
            case (nil, _): return true
            case (_, nil): return false
            case (let l?, let r?): return l != r ? l > r : lhs.id > rhs.id
            }
        }
        return Array(newestFirst.prefix(live.count - max))
    }

    /// Every live instance: what `clear` and `disable` shut down.
    public static func allLive(_ instances: [ManagedInstance]) -> [ManagedInstance] {
        instances.filter { $0.state.isLive }
    }

    /// Live instances per type, for `autoscale info`.
    public static func liveCounts(_ instances: [ManagedInstance]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for instance in instances where instance.state.isLive { counts[instance.instanceType, default: 0] += 1 }
        return counts
    }
}
