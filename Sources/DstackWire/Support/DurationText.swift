import Foundation

/// Durations as users type them: `30s`, `5m`, `1h`, `250ms`; a bare number is seconds.
public enum DurationText {
    public static func seconds(_ text: String) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number), value >= 0, value.isFinite else { return nil }
        switch trimmed.dropFirst(number.count) {
        case "", "s": return value
        case "ms": return value / 1000
        case "m": return value * 60
        case "h": return value * 3600
        default: return nil
        }
    }

    /// `90` → "1m30s", for messages.
    public static func format(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return total % 60 == 0 ? "\(total / 60)m" : "\(total / 60)m\(total % 60)s" }
        return total % 3600 == 0 ? "\(total / 3600)h" : "\(total / 3600)h\((total % 3600) / 60)m"
    }
}
