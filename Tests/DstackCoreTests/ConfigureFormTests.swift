import DstackCore
import XCTest

final class ConfigureFormTests: XCTestCase {
    let plugin = ProviderPlugin(
        vendor: "acme", displayName: "Acme",
        fields: [
            ConfigField(label: "Acme Key ID", key: "key_id", isSecret: true),
            ConfigField(label: "Region name", key: "region"),
            ConfigField(label: "Bucket", key: "bucket", isOptional: true),
            ConfigField(label: "Endpoint", key: "endpoint_url", isOptional: true, isPrompted: false),
        ],
        makeProvider: { _, _ in fatalError("not used") })

    var form: ConfigureForm { ConfigureForm(plugin: plugin) }

    func testFlagsComeFromFieldKeys() throws {
        let parsed = try form.parse(["--key-id", "K1", "--region=eu-west-1", "--endpoint-url", "http://127.0.0.1:5000", "--no-verify"])
        XCTAssertEqual(parsed.values, ["key_id": "K1", "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:5000"])
        XCTAssertFalse(parsed.verify)
    }

    func testUnknownFlagsAndStrayWordsAreRejected() {
        XCTAssertThrowsError(try form.parse(["--colour", "red"])) { error in
            XCTAssertTrue(String(describing: error).contains("--colour"))
            XCTAssertTrue(String(describing: error).contains("--key-id"))
        }
        XCTAssertThrowsError(try form.parse(["eu-west-1"]))
        XCTAssertThrowsError(try form.parse(["--region"]))
    }

    func testPromptsShowMaskedSecretsPlainValuesAndNone() {
        XCTAssertEqual(form.prompt(for: plugin.fields[0], current: "AKIAABCDEFGHWXYZ"), "Acme Key ID [****************WXYZ]: ")
        XCTAssertEqual(form.prompt(for: plugin.fields[1], current: "eu-west-1"), "Region name [eu-west-1]: ")
        XCTAssertEqual(form.prompt(for: plugin.fields[1], current: nil), "Region name: ")
        XCTAssertEqual(form.prompt(for: plugin.fields[2], current: nil), "Bucket [None]: ")
    }

    func testEnterKeepsTheCurrentValue() {
        XCTAssertEqual(form.resolve(plugin.fields[1], current: "eu-west-1", answer: ""), "eu-west-1")
        XCTAssertEqual(form.resolve(plugin.fields[1], current: "eu-west-1", answer: " us-east-1 "), "us-east-1")
        XCTAssertNil(form.resolve(plugin.fields[2], current: nil, answer: ""))
    }

    func testRequiredFieldsMustEndUpSet() throws {
        XCTAssertThrowsError(try form.finish(["key_id": "K"])) { error in
            XCTAssertEqual(error as? ConfigureError, .missingRequired(label: "Region name", flag: "--region"))
        }
        XCTAssertEqual(try form.finish(["key_id": "K", "region": "r", "bucket": ""]), ["key_id": "K", "region": "r"])
    }
}
