import DstackProvider
import Foundation

/// What EC2's Describe* replies say about a spot instance being taken back, in words
/// that name the signal (the core shows them in `dstack ps` and `dstack logs`).
enum EC2SpotSignals {
    /// Spot request status codes that mean EC2 takes (or took) the instance back.
    /// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-request-status.html
    static let interruptionStatuses: Set<String> = [
        "marked-for-termination", "marked-for-stop", "marked-for-hibernation",
        "instance-terminated-by-price", "instance-terminated-no-capacity",
        "instance-terminated-capacity-oversubscribed", "instance-terminated-launch-group-constraint",
        "instance-stopped-by-price", "instance-stopped-no-capacity", "instance-stopped-capacity-oversubscribed",
        "instance-stopped-launch-group-constraint", "instance-hibernated-by-price", "instance-hibernated-no-capacity",
        "instance-hibernated-capacity-oversubscribed",
    ]

    /// The instance state reason EC2 gives an instance it interrupted.
    static let interruptionStateReason = "Server.SpotInstanceTermination"

    /// The first sign found: the request's status, then the instance's state reason.
    static func signal(requestStatus: String?, stateReason: String?) -> String? {
        if let requestStatus, interruptionStatuses.contains(requestStatus) { return "spot request status \(requestStatus)" }
        if stateReason == interruptionStateReason { return "instance state reason \(interruptionStateReason)" }
        return nil
    }
}
