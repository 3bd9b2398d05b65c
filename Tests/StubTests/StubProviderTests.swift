import DstackAzure
import DstackCore
import DstackGCP
import DstackTesting
import Foundation
import XCTest

/// GCP and Azure are stubs: their settings are real, their operations honestly refuse.
final class StubProviderTests: XCTestCase {
    private let context = ProviderContext(installationID: "stub-tests", home: URL(fileURLWithPath: "/nonexistent"))

    func testGCPRefusesEveryOperationAsNotImplemented() async throws {
        let provider = try GCPPlugin.plugin.makeProvider(["project_id": "p", "region": "us-central1"], context)
        try await ProviderConformance.checkNotImplemented(provider, vendor: "GCP")
    }

    func testAzureRefusesEveryOperationAsNotImplemented() async throws {
        let provider = try AzurePlugin.plugin.makeProvider(["subscription_id": "s", "location": "eastus"], context)
        try await ProviderConformance.checkNotImplemented(provider, vendor: "Azure")
    }

    func testNotImplementedReadsAsOneActionableSentence() {
        XCTAssertEqual(ProviderError.notImplemented(vendor: "GCP").userMessage,
                       "GCP support is not implemented yet; please write to hello@dstack.ai")
        XCTAssertEqual(ProviderError.notImplemented(vendor: "Azure").userMessage,
                       "Azure support is not implemented yet; please write to hello@dstack.ai")
    }

    func testGCPAsksForProjectKeyFileRegionAndZone() {
        XCTAssertEqual(GCPPlugin.plugin.vendor, "gcp")
        XCTAssertEqual(GCPPlugin.plugin.displayName, "GCP")
        XCTAssertEqual(GCPPlugin.plugin.fields.map(\.key), ["project_id", "service_account_key_file", "region", "zone"])
        XCTAssertEqual(GCPPlugin.plugin.fields.map(\.label), ["Project ID", "Service account key file", "Region", "Zone"])
        XCTAssertEqual(GCPPlugin.plugin.fields.filter(\.isOptional).map(\.key), ["zone"])
        XCTAssertTrue(GCPPlugin.plugin.fields.allSatisfy { !$0.isSecret && $0.isPrompted && !$0.help.isEmpty })
    }

    func testAzureAsksForServicePrincipalAndLocationAndMasksTheSecret() {
        XCTAssertEqual(AzurePlugin.plugin.vendor, "azure")
        XCTAssertEqual(AzurePlugin.plugin.displayName, "Azure")
        XCTAssertEqual(AzurePlugin.plugin.fields.map(\.key),
                       ["subscription_id", "tenant_id", "client_id", "client_secret", "location"])
        XCTAssertEqual(AzurePlugin.plugin.fields.map(\.label),
                       ["Subscription ID", "Tenant ID", "Client ID", "Client secret", "Location"])
        XCTAssertEqual(AzurePlugin.plugin.fields.filter(\.isSecret).map(\.key), ["client_secret"])
        XCTAssertEqual(AzurePlugin.plugin.fields.first { $0.key == "client_secret" }?.flagName, "client-secret")
        XCTAssertTrue(AzurePlugin.plugin.fields.allSatisfy { !$0.isOptional && $0.isPrompted && !$0.help.isEmpty })
    }

    func testStubsAreMadeFromEmptySettingsToo() throws {
        // `configure --no-verify` may save partial settings; making the provider must not
        // fail before the user hears that the vendor is not implemented.
        XCTAssertNoThrow(try GCPPlugin.plugin.makeProvider([:], context))
        XCTAssertNoThrow(try AzurePlugin.plugin.makeProvider([:], context))
    }
}
