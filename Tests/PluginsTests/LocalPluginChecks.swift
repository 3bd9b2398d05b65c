import DstackLocal
import DstackTesting
import XCTest

final class LocalPluginChecks: XCTestCase {
    func testTheLocalPluginPassesThePluginChecks() async throws {
        try await ProviderPluginChecks(plugin: LocalPlugin.plugin, instanceType: "local", rejectedInstanceType: "m5.large").run()
    }
}
