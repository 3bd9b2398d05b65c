import Foundation

/// `~/.aws/credentials` and `~/.aws/config`, read the way the AWS CLI reads them:
/// `[name]` sections in credentials, `[profile name]` (or `[default]`) in config.
/// HOME and the file-path overrides come from the injected environment.
struct AWSConfigFiles: Sendable {
    var credentials: [String: [String: String]]
    var config: [String: [String: String]]

    init(credentials: [String: [String: String]] = [:], config: [String: [String: String]] = [:]) {
        self.credentials = credentials
        self.config = config
    }

    static func load(environment: [String: String]) -> AWSConfigFiles {
        let home = environment["HOME"] ?? ""
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? (home.isEmpty ? "" : "\(home)/.aws/credentials")
        let configPath = environment["AWS_CONFIG_FILE"] ?? (home.isEmpty ? "" : "\(home)/.aws/config")
        func read(_ path: String) -> String {
            guard !path.isEmpty, let data = FileManager.default.contents(atPath: path) else { return "" }
            return String(decoding: data, as: UTF8.self)
        }
        var config: [String: [String: String]] = [:]
        for (section, values) in parseINI(read(configPath)) {
            // "profile dev" → "dev"; "default" stays.
            let name = section.hasPrefix("profile ") ? String(section.dropFirst(8)).trimmingCharacters(in: .whitespaces) : section
            config[name, default: [:]].merge(values) { _, new in new }
        }
        return AWSConfigFiles(credentials: parseINI(read(credentialsPath)), config: config)
    }

    /// The profile in use: `AWS_PROFILE`, else `default`.
    static func profileName(environment: [String: String]) -> String {
        if let name = environment["AWS_PROFILE"], !name.isEmpty { return name }
        return "default"
    }

    /// A setting of a profile, credentials file first (as the AWS CLI does).
    func value(_ key: String, profile: String) -> String? {
        if let v = credentials[profile]?[key], !v.isEmpty { return v }
        if let v = config[profile]?[key], !v.isEmpty { return v }
        return nil
    }

    /// Sections of `key = value` lines; `#` and `;` start comments.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
