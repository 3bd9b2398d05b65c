import DstackWire
import Foundation

/// Durations as every dstack flag takes them (`30s`, `5m`, `1h`, or a bare number of
/// seconds; see `DurationText`). Zero is refused here: each runner duration is a
/// timeout or an interval that must move forward.
public enum RunnerDuration {
    public static func parse(_ text: String) -> TimeInterval? {
        guard let value = DurationText.seconds(text), value > 0 else { return nil }
        return value
    }
}
