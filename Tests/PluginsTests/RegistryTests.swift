import DstackPlugins
import DstackProvider
import DstackTesting
import Foundation
import XCTest

/// The registry is Package.swift's one list of providers, and every built-in plugin's
/// fields pass the checks a new plugin's would.
final class RegistryTests: XCTestCase {
    func testEveryFolderUnderPluginsIsAProviderOfThePackageList() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folders = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Plugins").path)
            .filter { !$0.hasPrefix(".") }
        XCTAssertEqual(Set(folders), Set(BuiltinProviders.names), "Package.swift's `providers` and the folders under Plugins/ differ")
        XCTAssertEqual(BuiltinProviders.names.count, Set(BuiltinProviders.names).count, "a provider is listed twice")
    }

    func testTheRegistryHoldsOnePluginPerListedProviderInItsOrder() {
        XCTAssertEqual(builtinRegistry.plugins.count, BuiltinProviders.names.count)
        XCTAssertEqual(Set(builtinRegistry.vendors).count, builtinRegistry.vendors.count, "two plugins claim one vendor name")
        // Each plugin is the one its folder declares: display names follow the folders here.
        XCTAssertEqual(builtinRegistry.plugins.map(\.displayName), BuiltinProviders.names)
        XCTAssertEqual(builtinRegistry.plugin(named: "AWS")?.vendor, "aws", "vendor names are matched case-insensitively")
    }

    func testEveryBuiltinPluginPassesTheFieldChecks() {
        for plugin in builtinRegistry.plugins {
            XCTAssertEqual(PluginFieldChecks.failures(of: plugin), [], "\(plugin.displayName)")
        }
    }
}
