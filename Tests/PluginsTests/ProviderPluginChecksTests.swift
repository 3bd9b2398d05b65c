import DstackLocal
import DstackProvider
import DstackTesting
import XCTest

/// The entry point reports what fails in each of its three groups, so a plugin that
/// breaks a promise cannot pass it.
final class ProviderPluginChecksTests: XCTestCase {
    func testABrokenPluginFailsTheFieldsTheKitAndTheCLIChecks() async {
        // The local provider with a camelCase field, asked to accept the type it refuses.
        let local = LocalPlugin.plugin
        let broken = ProviderPlugin(vendor: local.vendor, displayName: local.displayName,
                                    fields: [ConfigField(label: "Token", key: "apiToken", isOptional: true, help: "A token.")],
                                    instancesRunOnThisMachine: true, makeProvider: local.makeProvider)
        let failures = await ProviderPluginChecks(plugin: broken, instanceType: "m5.large", rejectedInstanceType: "local").failures()

        XCTAssertTrue(failures.contains { $0.hasPrefix("fields: apiToken: the key is not snake_case") }, "\(failures)")
        XCTAssertTrue(failures.contains { $0.hasPrefix("conformance: ") && $0.contains("m5.large") }, "\(failures)")
        XCTAssertTrue(failures.contains { $0.hasPrefix("cli: dstack autoscale allow m5.large --max 1 failed") }, "\(failures)")
    }
}
