/// A named workflow from `.dstack/workflows.yaml`: commands and the resources it needs.
public struct Workflow: Sendable, Equatable {
    public var name: String
    public var commands: [String]
    public var requirements: ResourceRequirements

    public init(name: String, commands: [String], requirements: ResourceRequirements = ResourceRequirements()) {
        self.name = name
        self.commands = commands
        self.requirements = requirements
    }
}

/// A problem in a workflows file, with where it is.
public struct WorkflowFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String

    public var description: String {
        line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)"
    }
}

/// Sizes as users write them: `64GB`, `512MB`, `1.5GB`, `16GiB`; a bare number is MiB.
public enum MemorySize {
    public static func mebibytes(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let value = Double(digits), value > 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factor: Double
        switch unit {
        case "", "M", "MB", "MIB": factor = 1
        case "G", "GB", "GIB": factor = 1024
        case "T", "TB", "TIB": factor = 1024 * 1024
        case "K", "KB", "KIB": factor = 1.0 / 1024
        default: return nil
        }
        let mib = (value * factor).rounded(.up)
        return mib >= 1 && mib < Double(Int.max) ? Int(mib) : nil
    }
}

import Foundation
