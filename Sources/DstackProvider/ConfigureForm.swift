import Foundation

/// `dstack <vendor> configure`, built from a plugin's fields with no per-vendor code:
/// which flags it takes, how each prompt reads, and what an answer means.
public struct ConfigureForm: Sendable {
    public var vendor: String
    public var displayName: String
    public var fields: [ConfigField]
    public var notes: [String]

    public init(plugin: ProviderPlugin) {
        self.vendor = plugin.vendor
        self.displayName = plugin.displayName
        self.fields = plugin.fields
        self.notes = plugin.configureNotes
    }

    public struct Arguments: Equatable {
        /// Values given as flags, keyed by field key.
        public var values: [String: String] = [:]
        public var verify = true
        public var help = false
    }

    /// Reads `--field-flag VALUE`, `--field-flag=VALUE`, `--no-verify` and `--help`.
    public func parse(_ arguments: [String]) throws -> Arguments {
        var parsed = Arguments()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--help", "-h": parsed.help = true; continue
            case "--no-verify": parsed.verify = false; continue
            default: break
            }
            guard argument.hasPrefix("--") else {
                throw ConfigureError.unexpectedArgument(argument, command: commandName)
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let field = fields.first(where: { $0.flagName == name }) else {
                throw ConfigureError.unknownFlag("--\(name)", command: commandName, known: fields.map { "--\($0.flagName)" } + ["--no-verify"])
            }
            if value == nil {
                guard index < arguments.count else { throw ConfigureError.missingValue("--\(name)") }
                value = arguments[index]
                index += 1
            }
            parsed.values[field.key] = value
        }
        return parsed
    }

    public var commandName: String { "dstack \(vendor) configure" }

    /// `AWS Access Key ID [****************ABCD]: `; optional fields with no value show `[None]`.
    /// `fallback` is what the provider would find by itself when nothing is saved (the
    /// environment's key): shown the same way, though Enter saves nothing.
    public func prompt(for field: ConfigField, current: String?, fallback: String? = nil) -> String {
        for shown in [current, fallback] {
            if let shown, !shown.isEmpty { return "\(field.label) [\(field.isSecret ? SecretMask.mask(shown) : shown)]: " }
        }
        if let defaultValue = field.defaultValue { return "\(field.label) [\(defaultValue)]: " }
        if field.isOptional { return "\(field.label) [None]: " }
        return "\(field.label): "
    }

    /// What an answer leaves the setting as: Enter keeps the current value (or the
    /// default); anything else replaces it. Nil means the setting stays unset.
    public func resolve(_ field: ConfigField, current: String?, answer: String) -> String? {
        let trimmed = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { return trimmed }
        if let current, !current.isEmpty { return current }
        return field.defaultValue
    }

    /// The settings after the flags and answers, checked for required fields.
    public func finish(_ settings: ProviderSettings) throws -> ProviderSettings {
        var result = settings.filter { !$0.value.isEmpty }
        for field in fields where result[field.key] == nil {
            if let defaultValue = field.defaultValue {
                result[field.key] = defaultValue
            } else if !field.isOptional {
                throw ConfigureError.missingRequired(label: field.label, flag: "--\(field.flagName)")
            }
        }
        return result
    }

    /// argparse-style help, like the rest of the CLI.
    public var help: String {
        var lines = ["usage: \(commandName) [--no-verify] " + fields.map { "[--\($0.flagName) VALUE]" }.joined(separator: " "), ""]
        lines.append("Saves the \(displayName) settings to $DSTACK_HOME/config.json and makes \(displayName) the active provider.")
        lines.append("Prompts for each setting not given as a flag; Enter keeps the value shown in brackets.")
        lines.append("The settings are verified with a read-only call first; nothing is saved when that fails.")
        if !notes.isEmpty { lines += [""] + notes }
        lines.append("")
        lines.append("optional arguments:")
        let rows = fields.map { field -> (String, String) in
            var help = field.help.isEmpty ? field.label : field.help
            if field.isOptional { help += " (optional)" }
            if !field.isPrompted { help += " (flag only)" }
            return ("--\(field.flagName) VALUE", help)
        } + [("--no-verify", "Save without verifying the settings"), ("-h, --help", "Show this help message and exit")]
        let width = (rows.map(\.0.count).max() ?? 0) + 2
        for (flag, help) in rows {
            lines.append("  " + flag.padding(toLength: width, withPad: " ", startingAt: 0) + help)
        }
        return lines.joined(separator: "\n")
    }
}

public enum ConfigureError: Error, Equatable, CustomStringConvertible {
    case unknownFlag(String, command: String, known: [String])
    case unexpectedArgument(String, command: String)
    case missingValue(String)
    case missingRequired(label: String, flag: String)
    case inputEnded(label: String)

    public var description: String {
        switch self {
        case .unknownFlag(let flag, let command, let known):
            return "'\(command)' has no option \(flag); it takes \(known.joined(separator: ", "))"
        case .unexpectedArgument(let argument, let command):
            return "'\(command)' takes only options, not '\(argument)'"
        case .missingValue(let flag):
            return "\(flag) needs a value"
        case .missingRequired(let label, let flag):
            return "\(label) is required; answer the prompt or pass \(flag)"
        case .inputEnded(let label):
            return "standard input ended before \(label) was answered; nothing was saved"
        }
    }
}
