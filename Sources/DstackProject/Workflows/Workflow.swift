/// A named workflow from `.dstack/workflows.yaml`: commands, the environment they run
/// with, and the resources it needs.
public struct Workflow: Sendable, Equatable {
    public var name: String
    public var commands: [String]
    /// Set in every command's environment on the runner.
    public var environment: [String: String]
    public var requirements: ResourceRequirements
    /// Paths relative to the working directory (checked with `ArtifactPath`) that the
    /// runner uploads after the commands end.
    public var artifacts: [String]
    /// Runs whose artifacts the working directory starts with.
    public var deps: [WorkflowDep]
    /// Its `retry:`; nil: the default (RunRetryPolicy.default).
    public var retry: RunRetryPolicy? = nil

    public init(name: String, commands: [String], environment: [String: String] = [:],
                requirements: ResourceRequirements = ResourceRequirements(), artifacts: [String] = [], deps: [WorkflowDep] = [],
                retry: RunRetryPolicy? = nil) {
        self.retry = retry
        self.name = name
        self.commands = commands
        self.environment = environment
        self.requirements = requirements
        self.artifacts = artifacts
        self.deps = deps
    }
}

/// A dependency: the latest successful run of a workflow whose artifacts are complete,
/// or one run by its ID. The server resolves it when the run is submitted.
public enum WorkflowDep: Sendable, Equatable, Hashable {
    case workflow(String)
    case run(String)
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

/// Sizes as users write them: `64GB`, `512MB`, `1.5GB`, `16GiB`, `1TB`. A bare number
/// is gigabytes, as dstack users write `memory: 16` and `disk: 100`.
public enum MemorySize {
    public static func mebibytes(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let value = Double(digits), value > 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factor: Double
        switch unit {
        case "M", "MB", "MIB": factor = 1
        case "", "G", "GB", "GIB": factor = 1024
        case "T", "TB", "TIB": factor = 1024 * 1024
        case "K", "KB", "KIB": factor = 1.0 / 1024
        default: return nil
        }
        let mib = (value * factor).rounded(.up)
        return mib >= 1 && mib < Double(Int.max) ? Int(mib) : nil
    }

    /// Whole gigabytes, rounded up (a disk is sized in GB): `100` and `100GB` are 100,
    /// `512MB` is 1.
    public static func gigabytes(_ text: String) -> Int? {
        mebibytes(text).map { ($0 + 1023) / 1024 }
    }
}

/// Environment variables as a workflow's `env:` and `dstack run --env` give them.
public enum EnvironmentEntry {
    /// A name a shell can use: a letter or `_`, then letters, digits or `_`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first == "_" || isASCIILetter(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || isASCIILetter($0) || ("0"..."9").contains($0)) }
    }

    /// Splits `KEY=VALUE`; a reason when the entry is not one.
    public static func parse(_ entry: String) -> Result<(String, String), EntryError> {
        guard let equals = entry.firstIndex(of: "=") else {
            return .failure(EntryError("'\(entry)' is not KEY=VALUE"))
        }
        let name = String(entry[..<equals])
        let value = String(entry[entry.index(after: equals)...])
        if let problem = problem(name: name, value: value) { return .failure(EntryError(problem)) }
        return .success((name, value))
    }

    /// Why a name or value cannot be set in a process environment, or nil.
    public static func problem(name: String, value: String) -> String? {
        guard isValidName(name) else {
            return "'\(name)' is not a valid environment variable name (letters, digits and _, not starting with a digit)"
        }
        if value.contains("\0") { return "the value of '\(name)' contains a NUL character" }
        return nil
    }

    public struct EntryError: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

private func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
}

import DstackProvider
import DstackWire
import Foundation
