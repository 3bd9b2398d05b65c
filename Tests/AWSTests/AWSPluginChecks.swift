import DstackAWS
import DstackTesting
import Foundation
import XCTest

/// The AWS plugin through DstackTesting's one entry point, against moto: its fields, the
/// conformance kit, and the CLI's configure, allow and info.
final class AWSPluginChecks: XCTestCase {
    var moto: MotoServer!
    var home: URL!

    // moto starts here, on the main thread: a process spawned from an async test's thread
    // inherits a signal mask that blocks SIGTERM, and would outlive `stop()`.
    override func setUpWithError() throws {
        moto = try MotoServer()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-checks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    override func tearDown() {
        moto?.stop()
        try? FileManager.default.removeItem(at: home)
    }

    func testTheAWSPluginPassesThePluginChecksAgainstMoto() async throws {
        // A runner URL, since no runner for EC2's architecture need be built here.
        let settings = ["access_key_id": "AKIDCHECKS", "secret_access_key": "plugin-checks-secret", "region": "us-east-1",
                        "endpoint_url": moto.url, "runner_url": "https://dstack.invalid/dstack-runner"]
        let unreachable = settings.merging(["endpoint_url": "http://127.0.0.1:\(try LocalPort.free())"]) { _, new in new }
        try await ProviderPluginChecks(plugin: AWSPlugin.plugin, settings: settings, instanceType: "m5.xlarge",
                                       rejectedInstanceType: "m5.bogus", misconfiguredSettings: unreachable,
                                       environment: isolatedEnvironment()).run()
    }

    /// No credentials, profile, endpoint or instance role of the machine running the tests.
    private func isolatedEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("AWS_") }.mapValues { _ in "" }
        environment["HOME"] = home.path
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        return environment
    }
}
