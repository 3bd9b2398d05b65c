import DstackProvider
import DstackTesting
import Foundation
import XCTest

/// The field checks catch each mistake a new plugin could make, in a sentence naming
/// the field; a sound plugin passes them.
final class PluginFieldChecksTests: XCTestCase {
    private func plugin(vendor: String = "acme", _ fields: [ConfigField]) -> ProviderPlugin {
        ProviderPlugin(vendor: vendor, displayName: "Acme", fields: fields) { _, _ in UnimplementedProvider(vendor: "Acme") }
    }

    private let sound = [
        ConfigField(label: "API token", key: "api_token", isSecret: true, help: "The token of a user allowed to make machines."),
        ConfigField(label: "Region", key: "region", defaultValue: "eu-1", help: "Where machines run."),
        ConfigField(label: "Bucket", key: "bucket", isOptional: true, help: "Where artifacts go."),
        ConfigField(label: "Endpoint", key: "endpoint_url", isOptional: true, isPrompted: false, help: "Another API endpoint."),
    ]

    func testASoundPluginAndSettingsForItPass() {
        XCTAssertEqual(PluginFieldChecks.failures(of: plugin(sound), settings: ["api_token": "t0ken-1234", "region": "eu-2"]), [])
    }

    func testAVendorThatIsNotOneLowerCaseWordFails() {
        let failures = PluginFieldChecks.failures(of: plugin(vendor: "Acme Cloud", sound))
        XCTAssertEqual(failures.count, 1, "\(failures)")
        XCTAssertTrue(failures.first?.contains("\"Acme Cloud\" is not one lower-case word") ?? false, "\(failures)")
    }

    func testEachBrokenFieldIsNamed() {
        let broken = [
            ConfigField(label: "Token", key: "apiToken", help: "camelCase key"),
            ConfigField(label: "Secret", key: "secret", isSecret: true, defaultValue: "changeme", help: "a default secret"),
            ConfigField(label: "Zone", key: "zone", isPrompted: false, help: "required, never asked"),
            ConfigField(label: "Zone again", key: "zone", isOptional: true, help: "same key"),
            ConfigField(label: "Help", key: "help", isOptional: true, help: "the flag configure owns"),
            ConfigField(label: "Silent", key: "silent", isOptional: true),
        ]
        let failures = PluginFieldChecks.failures(of: plugin(broken))
        for expected in ["apiToken: the key is not snake_case", "secret: a secret has a default value",
                         "zone: required but flag-only with no default", "two fields have the key zone",
                         "help: --help is taken by configure itself", "silent: the --help text must be one non-empty line"] {
            XCTAssertTrue(failures.contains { $0.hasPrefix(expected) }, "missing \"\(expected)\" in \(failures)")
        }
    }

    func testSettingsForNoFieldOrMissingARequiredOneFail() {
        let stray = PluginFieldChecks.failures(of: plugin(sound), settings: ["api_token": "t", "colour": "blue"])
        XCTAssertEqual(stray, ["the settings have colour, which is no field: configure could never save it"])
        let incomplete = PluginFieldChecks.failures(of: plugin(sound), settings: ["region": "eu-2"])
        XCTAssertEqual(incomplete.count, 1, "\(incomplete)")
        XCTAssertTrue(incomplete.first?.contains("API token is required") ?? false, "\(incomplete)")
    }
}
