import DstackCore
import DstackLocal
import DstackTesting
import Foundation
import XCTest

final class LocalConformanceTests: LocalProviderTestCase {
    /// The whole kit, with a bootstrap that does what a real one does: run the runner.
    /// Another installation is another DSTACK_HOME; a missing runner cannot verify.
    func testLocalProviderPassesTheConformanceKit() async throws {
        let otherHome = home.appendingPathComponent("other-installation")
        let other = LocalProvider(context: ProviderContext(installationID: "other", home: otherHome), terminationGrace: 0.5)
        let kit = ProviderConformance(provider: provider, goodInstanceType: "local", badInstanceType: "m5.large",
                                      userData: Self.execRunnerUserData, otherInstallation: other,
                                      misconfigured: makeProvider(runnerPath: "/nonexistent/dstack-runner"))
        try await kit.runAll()
        let left = try await provider.list().filter(\.state.isLive)
        XCTAssertEqual(left, [], "the kit terminated what it launched")
    }

    /// The kit's default user data only echoes and exits. That is a machine whose boot
    /// script ended: the instance is reported terminated, honestly, not kept alive.
    func testABootstrapThatExitsLeavesATerminatedInstance() async throws {
        let id = try await request(userData: "#!/bin/sh\necho dstack conformance\n")[0].id
        try await waitUntil("the finished bootstrap to show as terminated") {
            try await state(of: id) == .terminated
        }
        let log = try String(contentsOf: instanceDirectory(id).appendingPathComponent("runner.log"), encoding: .utf8)
        XCTAssertEqual(log, "dstack conformance\n")
        try await provider.terminate(TerminationTarget(instanceIDs: [id]))
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id), [])
    }
}
