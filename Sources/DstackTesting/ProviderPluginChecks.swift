import DstackProvider
import Foundation

/// Everything a provider plugin must pass, from one call in its test:
///
/// ```swift
/// func testTheLocalPluginPassesThePluginChecks() async throws {
///     try await ProviderPluginChecks(plugin: LocalPlugin.plugin, instanceType: "local", rejectedInstanceType: "m5.large").run()
/// }
/// ```
///
/// 1. its fields (`PluginFieldChecks`): names, prompts, defaults, masked secrets;
/// 2. the conformance kit (`ProviderConformance.runAll`) on providers the plugin makes
///    from `settings`, each in its own temporary home, with a second installation and,
///    given `misconfiguredSettings`, a provider whose verification must fail;
/// 3. the CLI (`PluginCLISmokeTest`): configure, allow, info with the built `dstack`.
///
/// No XCTest here: any test framework can call it.
public struct ProviderPluginChecks: Sendable {
    public var plugin: ProviderPlugin
    /// Settings that work against the test cloud (what a user would answer).
    public var settings: ProviderSettings
    /// A type the provider accepts, and one it must refuse as unsupported.
    public var instanceType: String
    public var rejectedInstanceType: String
    /// Settings that must not verify (a wrong secret, an unreachable endpoint); nil
    /// skips that check.
    public var misconfiguredSettings: ProviderSettings?
    /// Laid over the test's environment, for the providers and the `dstack` commands.
    public var environment: [String: String]
    /// The instances' boot script: one that stays up until terminated, so that a
    /// provider whose machine ends with its script (the local one) keeps it listed.
    public var userData: String
    public var dstackBinary: String

    public init(plugin: ProviderPlugin, settings: ProviderSettings = [:], instanceType: String, rejectedInstanceType: String,
                misconfiguredSettings: ProviderSettings? = nil, environment: [String: String] = [:],
                userData: String = "#!/bin/sh\necho dstack plugin checks\nexec sleep 600\n",
                dstackBinary: String = BuiltProducts.path("dstack")) {
        self.plugin = plugin
        self.settings = settings
        self.instanceType = instanceType
        self.rejectedInstanceType = rejectedInstanceType
        self.misconfiguredSettings = misconfiguredSettings
        self.environment = environment
        self.userData = userData
        self.dstackBinary = dstackBinary
    }

    /// Runs the three groups and throws one `ConformanceFailure` listing every failure.
    public func run() async throws {
        let failures = await failures()
        guard failures.isEmpty else {
            throw ConformanceFailure("\(plugin.displayName) plugin checks failed:\n" + failures.map { "- " + $0 }.joined(separator: "\n"))
        }
    }

    /// Every failure, prefixed by its group ("fields:", "conformance:", "cli:"); empty
    /// when the plugin passes.
    public func failures() async -> [String] {
        var failures = PluginFieldChecks.failures(of: plugin, settings: settings).map { "fields: " + $0 }
        failures += await conformanceFailures().map { "conformance: " + $0 }
        let cli = PluginCLISmokeTest(plugin: plugin, settings: settings, instanceType: instanceType,
                                     environment: environment, dstackBinary: dstackBinary)
        failures += cli.failures().map { "cli: " + $0 }
        return failures
    }

    private func conformanceFailures() async -> [String] {
        var homes: [URL] = []
        defer { homes.forEach { try? FileManager.default.removeItem(at: $0) } }
        do {
            func make(_ settings: ProviderSettings) throws -> any CloudProvider {
                let home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-plugin-checks-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
                homes.append(home)
                let installationID = "checks-" + UUID().uuidString.prefix(8).lowercased()
                let environment = ProcessInfo.processInfo.environment.merging(self.environment) { _, new in new }
                return try plugin.makeProvider(settings, ProviderContext(installationID: installationID, home: home, environment: environment))
            }
            var misconfigured: (any CloudProvider)?
            if let misconfiguredSettings {
                do {
                    misconfigured = try make(misconfiguredSettings)
                } catch is ProviderError {
                    // Refused before any call: as good as a verification that fails.
                }
            }
            let kit = ProviderConformance(provider: try make(settings), goodInstanceType: instanceType,
                                          badInstanceType: rejectedInstanceType, userData: userData,
                                          otherInstallation: try make(settings), misconfigured: misconfigured)
            try await kit.runAll()
            return []
        } catch {
            return ["\(error)"]
        }
    }
}
