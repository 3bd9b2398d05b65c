import DstackProvider
import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The seed's first three commands for one vendor, through the built `dstack` as a
/// black box in a fresh `DSTACK_HOME`: `dstack VENDOR configure` answering the prompts,
/// `dstack autoscale allow TYPE --max 1`, `dstack autoscale info`. Whatever the commands
/// leave running (rules' instances, a background server) is stopped afterwards.
public struct PluginCLISmokeTest: Sendable {
    public var plugin: ProviderPlugin
    /// The answers: prompted fields are typed on standard input (Enter when absent),
    /// flag-only ones are passed as flags.
    public var settings: ProviderSettings
    public var instanceType: String
    /// Laid over the test's own environment for every command.
    public var environment: [String: String]
    public var dstackBinary: String

    public init(plugin: ProviderPlugin, settings: ProviderSettings, instanceType: String,
                environment: [String: String] = [:], dstackBinary: String = BuiltProducts.path("dstack")) {
        self.plugin = plugin
        self.settings = settings
        self.instanceType = instanceType
        self.environment = environment
        self.dstackBinary = dstackBinary
    }

    /// Every broken promise, one sentence each; empty when the commands behave.
    public func failures() -> [String] {
        guard FileManager.default.isExecutableFile(atPath: dstackBinary) else {
            return ["no dstack binary at \(dstackBinary); build it first (swift build --product dstack)"]
        }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-plugin-checks-\(UUID().uuidString)")
        defer {
            _ = try? dstack(["autoscale", "clear"], home: home)
            Self.stopServer(of: home)
            try? FileManager.default.removeItem(at: home)
        }
        do {
            return try smoke(home: home)
        } catch {
            return ["could not run \(dstackBinary): \(error)"]
        }
    }

    private func smoke(home: URL) throws -> [String] {
        var failures: [String] = []
        let form = ConfigureForm(plugin: plugin)
        let flags = plugin.fields.filter { !$0.isPrompted }.flatMap { field in
            settings[field.key].map { ["--\(field.flagName)", $0] } ?? []
        }
        let answers = plugin.fields.filter(\.isPrompted).map { (settings[$0.key] ?? "") + "\n" }.joined()
        let secrets = plugin.fields.filter(\.isSecret).compactMap { settings[$0.key] }.filter { $0.count > 4 }

        let configure = try dstack([plugin.vendor, "configure"] + flags, home: home, stdin: answers)
        guard configure.status == 0 else {
            return ["dstack \(plugin.vendor) configure failed: \(configure)"]
        }
        for field in plugin.fields where field.isPrompted {
            let prompt = form.prompt(for: field, current: nil)
            if !configure.stdout.contains(prompt) { failures.append("configure did not prompt \"\(prompt)\": \(configure.stdout)") }
        }

        let allow = try dstack(["autoscale", "allow", instanceType, "--max", "1"], home: home)
        if allow.status != 0 { failures.append("dstack autoscale allow \(instanceType) --max 1 failed: \(allow)") }

        let info = try dstack(["autoscale", "info"], home: home)
        if info.status != 0 || !info.stdout.contains(instanceType) || !info.stdout.contains(plugin.vendor) {
            failures.append("dstack autoscale info does not show the rule for \(instanceType) on \(plugin.vendor): \(info)")
        }
        let json = try dstack(["autoscale", "info", "--json"], home: home)
        let parsed = try? JSONValue.parse(json.stdout)
        let rule = parsed?["rules"]?.arrayValue?.first { $0["instance_type"]?.stringValue == instanceType }
        if parsed?["provider"]?.stringValue != plugin.vendor || rule?["max"]?.intValue != 1 {
            failures.append("dstack autoscale info --json does not say provider \(plugin.vendor), max 1 of \(instanceType): \(json)")
        }

        for result in [configure, allow, info, json] {
            for secret in secrets where result.stdout.contains(secret) || result.stderr.contains(secret) {
                failures.append("a secret (…\(secret.suffix(4))) was printed in full: \(result)")
            }
        }
        return failures
    }

    private func dstack(_ arguments: [String], home: URL, stdin: String = "") throws -> CommandResult {
        var environment = self.environment
        environment["DSTACK_HOME"] = home.path
        return try runCommand(dstackBinary, arguments, environment: environment, stdin: stdin)
    }

    /// Stops the server the commands may have started in the background for `home`: the
    /// pid its `server.json` names gets SIGTERM, and SIGKILL if it is still there after 10 s.
    public static func stopServer(of home: URL) {
        guard let data = FileManager.default.contents(atPath: home.appendingPathComponent("server.json").path),
              let pid = (try? JSONValue.parse(Array(data)))?["pid"]?.intValue, pid > 1 else { return }
        let process = pid_t(pid)
        kill(process, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while isAlive(process) && Date() < deadline { usleep(50_000) }
        if isAlive(process) { kill(process, SIGKILL) }
    }

    /// A zombie (exited, not yet reaped by its parent) counts as gone.
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
