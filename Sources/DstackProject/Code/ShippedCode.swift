/// The project's code as shipped with a run: a gzipped tar in the code store, named by
/// the SHA-256 of its bytes, so identical code is stored once and the runner can check
/// what it downloaded.
public struct ShippedCode: Sendable, Equatable, Hashable {
    /// Lowercase hex SHA-256 of the archive's bytes.
    public var sha256: String
    /// The archive's size in bytes.
    public var size: Int

    public init(sha256: String, size: Int) {
        self.sha256 = sha256
        self.size = size
    }

    /// 64 lowercase hex digits: the only names the store hands out or looks up, so a
    /// name can never step outside its directory.
    public static func isValidHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// Sizes of code, as `--max-code-size` takes them and as messages show them.
public enum ByteSize {
    /// `100MB`, `1.5GB`, `512KB`, `0`; a bare number is megabytes. 1 MB = 1024 × 1024 bytes.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let value = Double(digits), value >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factor: Double
        switch unit {
        case "B": factor = 1
        case "K", "KB", "KIB": factor = 1024
        case "", "M", "MB", "MIB": factor = 1024 * 1024
        case "G", "GB", "GIB": factor = 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = (value * factor).rounded(.up)
        return bytes < Double(Int.max) ? Int(bytes) : nil
    }

    /// "812 B", "4.2 KB", "120.5 MB", "1.3 GB".
    public static func format(_ bytes: Int) -> String {
        let units = ["KB", "MB", "GB", "TB"]
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: value >= 100 ? "%.0f" : "%.1f", value) + " " + units[unit]
    }
}

import DstackProvider
import DstackWire
import Foundation
