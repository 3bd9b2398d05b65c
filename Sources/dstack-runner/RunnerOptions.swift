/// The runner's command line. Hand-parsed: two flags do not need a framework, and an
/// unknown flag must exit 2 with one line (ArgumentParser exits 64).
struct RunnerOptions: Equatable {
    var instanceID: String
    var stateDirectory: String

    static let usage = "usage: dstack-runner --instance-id ID --state-dir DIR"

    enum ParseResult: Equatable {
        case run(RunnerOptions)
        case help
        case invalid(String)
    }

    static func parse(_ arguments: [String]) -> ParseResult {
        var values: [String: String] = [:]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--help" || argument == "-h" { return .help }
            let (flag, inline) = split(argument)
            guard flag == "--instance-id" || flag == "--state-dir" else {
                return .invalid(argument.hasPrefix("-") ? "unknown option '\(flag)'" : "unexpected argument '\(argument)'")
            }
            guard let value = inline ?? rest.popFirst(), !value.isEmpty else {
                return .invalid("option '\(flag)' needs a value")
            }
            values[flag] = value
        }
        guard let id = values["--instance-id"] else { return .invalid("missing --instance-id") }
        guard let directory = values["--state-dir"] else { return .invalid("missing --state-dir") }
        return .run(RunnerOptions(instanceID: id, stateDirectory: directory))
    }

    /// `--flag=value` → (`--flag`, `value`); `--flag` → (`--flag`, nil).
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
