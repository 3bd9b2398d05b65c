import Foundation

/// An amount of US dollars in whole millionths. Spot prices come with six decimals, so
/// sums of them stay exact; the cost of a span is rounded once, to the nearest millionth.
public struct MicroDollars: Sendable, Hashable, Comparable, AdditiveArithmetic {
    public var micros: Int64

    public init(micros: Int64) {
        self.micros = micros
    }

    /// A price as a cloud spells it in dollars (0.0312), to the nearest millionth.
    public init(dollars: Double) {
        micros = Int64((dollars * 1_000_000).rounded())
    }

    public static var zero: MicroDollars { MicroDollars(micros: 0) }
    public static func + (a: MicroDollars, b: MicroDollars) -> MicroDollars { MicroDollars(micros: a.micros + b.micros) }
    public static func - (a: MicroDollars, b: MicroDollars) -> MicroDollars { MicroDollars(micros: a.micros - b.micros) }
    public static func < (a: MicroDollars, b: MicroDollars) -> Bool { a.micros < b.micros }

    /// Exact decimal dollars with six places ("0.012345"), as the API and `--json` carry them.
    public var decimalText: String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    /// Dollars to four places, rounded half away from zero ("$0.0123"), as tables show them.
    public var displayText: String {
        let sign = micros < 0 ? "-" : ""
        let tenThousandths = (micros.magnitude + 50) / 100
        let fraction = String(tenThousandths % 10_000)
        return "\(sign)$\(tenThousandths / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }

    /// Parses `decimalText` (or fewer places); nil for anything else.
    public init?(decimalText text: String) {
        let negative = text.hasPrefix("-")
        let body = negative ? text.dropFirst() : Substring(text)
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              let whole = Int64(parts[0]) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int64(digits) else { return nil }
            fraction = value * Int64(pow(10, Double(6 - digits.count)))
        }
        let magnitude = whole * 1_000_000 + fraction
        micros = negative ? -magnitude : magnitude
    }
}
