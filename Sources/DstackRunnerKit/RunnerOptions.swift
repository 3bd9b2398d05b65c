import Foundation

/// What to do when the server has been out of reach for the orphan timeout.
public enum OrphanAction: String, Sendable, Equatable {
    /// Shut the machine down: on a cloud that ends the billing.
    case poweroff
    /// Just exit: the local provider's "instances" are processes.
    case exit
}

/// The runner's command line. Hand-parsed: an unknown flag must exit 2 with one line
/// (ArgumentParser exits 64), and the flags are few and flat.
public struct RunnerOptions: Equatable, Sendable {
    /// nil: ask the EC2 instance metadata service (the bootstrap passes "" on a cloud).
    public var instanceID: String?
    public var stateDirectory: String
    /// nil: lifecycle-only mode (record itself, wait for SIGTERM), as the local
    /// provider's tests and a bootstrap without a server use it.
    public var serverURL: String?
    public var registrationToken: String?
    /// `sha256//BASE64` of the server's public key, when the server's certificate is
    /// self-signed: the runner talks only to a server holding that key.
    public var serverPin: String?
    public var orphanAction: OrphanAction = .poweroff
    public var orphanTimeout: TimeInterval = 30 * 60
    public var pollWait: TimeInterval = 25
    public var heartbeatInterval: TimeInterval = 5
    public var metadataURL: String = "http://169.254.169.254"
    /// Watch the metadata service for spot notices: always when the instance ID comes
    /// from it (a cloud), and wherever `--metadata-url` names one (a stub, in tests).
    public var metadataURLGiven = false
    /// How often the spot notices are read.
    public var noticeInterval: TimeInterval = 5

    public init(instanceID: String?, stateDirectory: String) {
        self.instanceID = instanceID
        self.stateDirectory = stateDirectory
    }

    public static let usage = "usage: dstack-runner [--instance-id ID] --state-dir DIR [--server URL --registration-token TOKEN]"
        + " [--server-pin sha256//KEY] [--orphan-action poweroff|exit] [--orphan-timeout D] [--poll-wait D] [--heartbeat-interval D] [--metadata-url URL] [--notice-interval D]"

    public enum ParseResult: Equatable {
        case run(RunnerOptions)
        case help
        case invalid(String)
    }

    private static let flags: Set<String> = [
        "--instance-id", "--state-dir", "--server", "--registration-token", "--orphan-action",
        "--orphan-timeout", "--poll-wait", "--heartbeat-interval", "--metadata-url", "--server-pin", "--notice-interval",
    ]
    /// The bootstrap passes `--instance-id ""` when the ID must come from the metadata service.
    private static let mayBeEmpty: Set<String> = ["--instance-id"]

    /// The variable the bootstrap hands the registration token in, so that it does not
    /// show in the process list the way a command-line argument does.
    public static let registrationTokenVariable = "DSTACK_REGISTRATION_TOKEN"

    public static func parse(_ arguments: [String],
                             environment: [String: String] = ProcessInfo.processInfo.environment) -> ParseResult {
        var values: [String: String] = [:]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            let position = arguments.count - rest.count
            if argument == "--help" || argument == "-h" { return .help }
            let (flag, inline) = split(argument)
            guard flags.contains(flag) else {
                // A stray word is not echoed: it may be a token that lost its flag.
                return .invalid(argument.hasPrefix("-") ? "unknown option '\(flag)'" : "unexpected argument at position \(position)")
            }
            guard let value = inline ?? rest.popFirst(), !value.isEmpty || mayBeEmpty.contains(flag) else {
                return .invalid("option '\(flag)' needs a value")
            }
            values[flag] = value
        }
        guard let directory = values["--state-dir"] else { return .invalid("missing --state-dir") }
        var options = RunnerOptions(instanceID: values["--instance-id"].flatMap { $0.isEmpty ? nil : $0 },
                                    stateDirectory: directory)
        options.serverURL = values["--server"]
        options.registrationToken = values["--registration-token"]
            ?? environment[registrationTokenVariable].flatMap { $0.isEmpty ? nil : $0 }
        if options.serverURL != nil && options.registrationToken == nil { return .invalid("--server needs --registration-token") }
        if options.registrationToken != nil && options.serverURL == nil { return .invalid("--registration-token needs --server") }
        if let server = options.serverURL, !(server.hasPrefix("http://") || server.hasPrefix("https://")) {
            return .invalid("--server must be an http:// or https:// URL")
        }
        if let pin = values["--server-pin"] {
            guard pin.hasPrefix("sha256//"), pin.count > 8 else { return .invalid("--server-pin must look like sha256//BASE64") }
            guard options.serverURL?.hasPrefix("https://") == true else { return .invalid("--server-pin needs an https:// --server") }
            options.serverPin = pin
        }
        if let action = values["--orphan-action"] {
            guard let parsed = OrphanAction(rawValue: action) else {
                return .invalid("--orphan-action must be poweroff or exit, not '\(action)'")
            }
            options.orphanAction = parsed
        }
        for (flag, keyPath) in durationFlags {
            guard let text = values[flag] else { continue }
            guard let seconds = RunnerDuration.parse(text) else {
                return .invalid("\(flag) must be a duration like 30s, 5m or 1h, not '\(text)'")
            }
            options[keyPath: keyPath] = seconds
        }
        if let metadata = values["--metadata-url"] {
            guard metadata.hasPrefix("http://") || metadata.hasPrefix("https://") else {
                return .invalid("--metadata-url must be an http:// or https:// URL")
            }
            options.metadataURL = metadata
            options.metadataURLGiven = true
        }
        return .run(options)
    }

    private static var durationFlags: [(String, WritableKeyPath<RunnerOptions, TimeInterval>)] { [
        ("--orphan-timeout", \.orphanTimeout), ("--poll-wait", \.pollWait), ("--heartbeat-interval", \.heartbeatInterval),
        ("--notice-interval", \.noticeInterval),
    ] }

    /// `--flag=value` → (`--flag`, `value`); `--flag` → (`--flag`, nil).
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
