import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Issue 12's "failed launches end the run", against moto: no runner ever registers
/// (none is started here, as on a real instance that cannot reach the server), so each
/// launch times out; after `--max-provisioning-attempts` launches the run fails naming
/// the server URL the instances were given, and nothing is left running or open.
final class ProvisioningFailureOnEC2Tests: EC2EndToEndTestCase {
    func testARunWhoseRunnersNeverRegisterFailsAfterThreeLaunchesAndLeavesNothingRunningOrOpen() throws {
        try configureAWS()
        try dstack("autoscale", "allow", "m5.large", "--max", "1")

        // The URL the instances are told: an address the instances cannot reach, as when
        // a server runs behind NAT. No runner is started for them.
        let port = try MotoServer.freePort()
        let advertised = "https://10.0.0.5:\(port)"
        try startServer(["--advertise-url", advertised, "--provisioning-timeout", "3s", "--max-provisioning-attempts", "3"], port: port)

        // The server serves HTTPS (its advertise URL is not loopback); the CLI finds it,
        // and its certificate's pin, in server.json.
        let id = try dstack("run", "--detach", "--instance-type", "m5.large", "--", "true")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let deadline = Date().addingTimeInterval(120)
        while try run(id)?["status"]?.stringValue != "failed", Date() < deadline { Thread.sleep(forTimeInterval: 0.5) }
        let record = try XCTUnwrap(try run(id))
        XCTAssertEqual(record["status"]?.stringValue, "failed", "server log:\n\(serverOutput)")
        XCTAssertEqual(record["reason"]?.stringValue, """
            3 instances of m5.large were launched for this run and none of their runners registered with \(advertised) \
            within 3s; check that instances can reach that URL (dstack server --advertise-url) and that the runner can \
            start there (see the instance's console output)
            """)

        // Give the pass that failed the run time to finish terminating, then a few more passes.
        Thread.sleep(forTimeInterval: 3)
        let cloud = try emulator()
        let instances = try XCTUnwrap(cloud["instances"]?.objectValue)
        XCTAssertEqual(instances.count, 3, "one instance per attempt, no more: \(cloud)")
        for (instance, facts) in instances.entries {
            let state = facts["state"]?.stringValue ?? ""
            XCTAssertTrue(["shutting-down", "terminated"].contains(state), "\(instance) is \(state)")
        }
        for (request, state) in cloud["requests"]?.objectValue?.entries ?? [] {
            XCTAssertFalse(["open", "active"].contains(state.stringValue ?? ""), "spot request \(request) is \(state)")
        }
        let listed = try JSONValue.parse(try dstack("instances", "--json").stdout).arrayValue ?? []
        XCTAssertFalse(listed.contains { ["pending", "running"].contains($0["state"]?.stringValue ?? "") },
                       "dstack's own list shows nothing running: \(listed)")
    }
}
