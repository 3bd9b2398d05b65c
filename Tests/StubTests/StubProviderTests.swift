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
        let provider = try gcpPlugin.makeProvider(["project_id": "p", "region": "us-central1"], context)
        try await ProviderConformance.checkNotImplemented(provider, vendor: "GCP")
    }

    func testAzureRefusesEveryOperationAsNotImplemented() async throws {
        let provider = try azurePlugin.makeProvider(["subscription_id": "s", "location": "eastus"], context)
        try await ProviderConformance.checkNotImplemented(provider, vendor: "Azure")
    }

    func testNotImplementedReadsAsOneActionableSentence() {
        XCTAssertEqual(ProviderError.notImplemented(vendor: "GCP").userMessage,
                       "GCP support is not implemented yet; please write to hello@dstack.ai")
        XCTAssertEqual(ProviderError.notImplemented(vendor: "Azure").userMessage,
                       "Azure support is not implemented yet; please write to hello@dstack.ai")
    }

    func testGCPAsksForProjectKeyFileRegionAndZone() {
        XCTAssertEqual(gcpPlugin.vendor, "gcp")
        XCTAssertEqual(gcpPlugin.displayName, "GCP")
        XCTAssertEqual(gcpPlugin.fields.map(\.key), ["project_id", "service_account_key_file", "region", "zone"])
        XCTAssertEqual(gcpPlugin.fields.map(\.label), ["Project ID", "Service account key file", "Region", "Zone"])
        XCTAssertEqual(gcpPlugin.fields.filter(\.isOptional).map(\.key), ["zone"])
        XCTAssertTrue(gcpPlugin.fields.allSatisfy { !$0.isSecret && $0.isPrompted && !$0.help.isEmpty })
    }

    func testAzureAsksForServicePrincipalAndLocationAndMasksTheSecret() {
        XCTAssertEqual(azurePlugin.vendor, "azure")
        XCTAssertEqual(azurePlugin.displayName, "Azure")
        XCTAssertEqual(azurePlugin.fields.map(\.key),
                       ["subscription_id", "tenant_id", "client_id", "client_secret", "location"])
        XCTAssertEqual(azurePlugin.fields.map(\.label),
                       ["Subscription ID", "Tenant ID", "Client ID", "Client secret", "Location"])
        XCTAssertEqual(azurePlugin.fields.filter(\.isSecret).map(\.key), ["client_secret"])
        XCTAssertEqual(azurePlugin.fields.first { $0.key == "client_secret" }?.flagName, "client-secret")
        XCTAssertTrue(azurePlugin.fields.allSatisfy { !$0.isOptional && $0.isPrompted && !$0.help.isEmpty })
    }

    func testStubsAreMadeFromEmptySettingsToo() throws {
        // `configure --no-verify` may save partial settings; making the provider must not
        // fail before the user hears that the vendor is not implemented.
        XCTAssertNoThrow(try gcpPlugin.makeProvider([:], context))
        XCTAssertNoThrow(try azurePlugin.makeProvider([:], context))
    }
}
