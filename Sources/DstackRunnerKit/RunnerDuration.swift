import Foundation

/// Durations as every dstack flag takes them: `30s`, `5m`, `1h`, or a bare number of
/// seconds. Fractions are allowed (`0.5s`, `1.5m`); zero and negatives are not, since
/// each duration here is a timeout or an interval that must move forward.
public enum RunnerDuration {
    public static func parse(_ text: String) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last else { return nil }
        let multiplier: Double
        let number: Substring
        switch unit {
        case "s": multiplier = 1; number = trimmed.dropLast()
        case "m": multiplier = 60; number = trimmed.dropLast()
        case "h": multiplier = 3600; number = trimmed.dropLast()
        default: multiplier = 1; number = Substring(trimmed)
        }
        // Double("inf"), Double("1e3") and Double("0x10") parse; a duration flag should not.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), value.isFinite, value > 0 else { return nil }
        return value * multiplier
    }
}
