@testable import DstackLocal
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The local provider's simulated mode (SimulatedInstances.swift): launches record the
/// instance and its user data and start nothing, for a load test's own runners.
final class SimulatedInstancesTests: LocalProviderTestCase {
    func makeSimulated(runnerPath: String? = "/nonexistent/dstack-runner") -> LocalProvider {
        LocalProvider(context: ProviderContext(installationID: "local-tests", home: home), runnerPath: runnerPath,
                      simulated: true)
    }

    func testASimulatedLaunchWritesTheRecordAndUserDataAndStartsNoProcess() async throws {
        let provider = makeSimulated()
        let userData = "#!/bin/sh\nexport DSTACK_REGISTRATION_TOKEN='abc'\nexec \"$RUNNER\" --server 'http://127.0.0.1:1'\n"
        let launched = try await request(userData: userData, count: 2, using: provider)
        XCTAssertEqual(launched.count, 2)
        for instance in launched {
            let directory = instanceDirectory(instance.id)
            XCTAssertEqual(try String(contentsOf: directory.appendingPathComponent("user-data.sh"), encoding: .utf8), userData)
            let record = try XCTUnwrap(InstanceStore(home: home).record(instance.id))
            XCTAssertTrue(record.simulated)
            XCTAssertNil(record.pid, "no process was started")
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("runner.log").path))
        }
        let listed = try await provider.list()
        XCTAssertEqual(Set(listed.map(\.id)), Set(launched.map(\.id)))
        XCTAssertEqual(listed.map(\.state), [.running, .running], "running until terminated, however old")

        try await provider.terminate(TerminationTarget(instanceIDs: launched.map(\.id)))
        let afterwards = try await provider.list()
        XCTAssertEqual(afterwards, [])
    }

    func testSimulatedModeNeedsNoRunnerBinary() async throws {
        let provider = makeSimulated(runnerPath: "/nonexistent/dstack-runner")
        try await provider.verifyConfiguration()
        let launched = try await request(count: 1, using: provider)
        XCTAssertEqual(launched.count, 1)
    }

    func testTheSettingIsOffUnlessTrueAndRefusesOtherValues() throws {
        XCTAssertFalse(try LocalProvider.isSimulated([:]))
        XCTAssertFalse(try LocalProvider.isSimulated(["simulated": "false"]))
        XCTAssertTrue(try LocalProvider.isSimulated(["simulated": "true"]))
        XCTAssertThrowsError(try LocalProvider.isSimulated(["simulated": "yes"])) { error in
            guard case ProviderError.invalidConfiguration(let detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("'yes'"), detail)
        }
    }

    func testThePluginMakesASimulatedProviderOnlyWhenAsked() throws {
        let context = ProviderContext(installationID: "local-tests", home: home)
        let plain = try XCTUnwrap(try LocalPlugin.plugin.makeProvider([:], context) as? LocalProvider)
        let simulated = try XCTUnwrap(try LocalPlugin.plugin.makeProvider(["simulated": "true"], context) as? LocalProvider)
        XCTAssertFalse(plain.simulated)
        XCTAssertTrue(simulated.simulated)
        XCTAssertEqual(LocalPlugin.plugin.fields.map(\.key), ["simulated", "metadata_url"])
        XCTAssertEqual(LocalPlugin.plugin.fields.filter(\.isPrompted), [], "`dstack local configure` still asks nothing")
    }

    func testASimulatedProviderPassesTheConformanceKit() async throws {
        let kit = ProviderConformance(provider: makeSimulated(), goodInstanceType: "local", badInstanceType: "m5.large",
                                      userData: Self.execRunnerUserData)
        try await kit.runAll()
    }
}
