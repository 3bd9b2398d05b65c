import DstackCore
import XCTest

/// `dstack <vendor> configure`, built from each plugin's fields.
final class ConfigureTests: CLITestCase {
    private let azureAnswers = "sub-123\ntenant-456\nclient-789\nsuper-secret-value-WXYZ\nwesteurope\n"

    private func savedConfiguration() throws -> JSONValue {
        try JSONValue.parse(String(contentsOf: configFile, encoding: .utf8))
    }

    func testPipedAnswersAreSavedAndTheVendorBecomesActive() throws {
        let out = try ok("azure", "configure", "--no-verify", stdin: azureAnswers)
        XCTAssertTrue(out.contains("Subscription ID: "), out)
        XCTAssertTrue(out.contains("Azure is now the active provider"), out)
        let saved = try savedConfiguration()
        XCTAssertEqual(saved["active"], "azure")
        XCTAssertEqual(saved["providers"]?["azure"]?["client_secret"], "super-secret-value-WXYZ")
        XCTAssertEqual(saved["providers"]?["azure"]?["location"], "westeurope")
        let mode = try FileManager.default.attributesOfItem(atPath: configFile.path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
    }

    func testEnterKeepsValuesAndSecretsAreShownMasked() throws {
        try ok("azure", "configure", "--no-verify", stdin: azureAnswers)
        let out = try ok("azure", "configure", "--no-verify", stdin: "\n\n\n\n\n")
        XCTAssertTrue(out.contains("Client secret [****************WXYZ]: "), out)
        XCTAssertTrue(out.contains("Subscription ID [sub-123]: "), out)
        XCTAssertFalse(out.contains("super-secret-value"), "the secret must never be printed whole")
        XCTAssertEqual(try savedConfiguration()["providers"]?["azure"]?["client_secret"], "super-secret-value-WXYZ")
    }

    func testFlagsAnswerWithoutPrompts() throws {
        let out = try ok("azure", "configure", "--no-verify", "--subscription-id", "s", "--tenant-id", "t",
                         "--client-id", "c", "--client-secret", "secret", "--location=eastus")
        XCTAssertFalse(out.contains(": "), "no prompts when every field is a flag: \(out)")
        XCTAssertEqual(try savedConfiguration()["providers"]?["azure"]?["location"], "eastus")
    }

    func testInputEndingEarlySavesNothing() throws {
        try fails(["azure", "configure", "--no-verify"], saying: "standard input ended before", stdin: "sub\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: configFile.path))
    }

    func testAStubVendorSaysItIsNotImplementedAndSavesNothing() throws {
        try fails(["gcp", "configure", "--project-id", "p", "--service-account-key-file", "/k.json", "--region", "us-central1"],
                  saying: "GCP support is not implemented yet; please write to hello@dstack.ai")
        XCTAssertFalse(FileManager.default.fileExists(atPath: configFile.path))
        try fails(["azure", "configure"], saying: "Azure support is not implemented yet; please write to hello@dstack.ai",
                  stdin: azureAnswers)
        XCTAssertFalse(FileManager.default.fileExists(atPath: configFile.path))
    }

    func testAStubVendorSavedWithoutVerifyFailsEveryCloudOperationClearly() throws {
        try ok("gcp", "configure", "--no-verify", "--project-id", "p", "--service-account-key-file", "/k.json", "--region", "us-central1")
        XCTAssertEqual(try savedConfiguration()["active"], "gcp")
        try fails(["autoscale", "allow", "n1-standard-4", "--max", "1"], saying: "dstack: GCP support is not implemented yet; please write to hello@dstack.ai")
        try fails(["autoscale", "info"], saying: "GCP support is not implemented yet")
        try fails(["instances"], saying: "GCP support is not implemented yet")
    }

    func testAFailedVerificationKeepsTheOldSettings() throws {
        try ok("local", "configure")
        let before = snapshot()
        try fails(["gcp", "configure", "--project-id", "p", "--service-account-key-file", "/k.json", "--region", "r"],
                  saying: "not implemented")
        XCTAssertEqual(snapshot(), before)
        XCTAssertEqual(try savedConfiguration()["active"], "local")
    }
}
