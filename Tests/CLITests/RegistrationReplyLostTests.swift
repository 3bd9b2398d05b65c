import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Runner registration is idempotent end to end: a real runner whose registration reply
/// is lost on the way (the server registered it; the runner never heard) registers again
/// with its launch's token, gets a working token, and runs its work.
final class RegistrationReplyLostTests: CLITestCase {
    func testARunnerWhoseRegistrationReplyIsDroppedRegistersAgainAndRunsItsWork() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let port = try LocalPort.free()
        // Instances reach the server through the proxy, which forwards the first
        // registration to the server but closes the runner's connection instead of replying.
        let proxy = try FaultProxy(upstream: "http://127.0.0.1:\(port)",
                                   rule: FaultProxy.dropReplies(method: "POST", path: RunnerAPI.registerPath))
        defer { proxy.stop() }
        let server = try startServer("--advertise-url", proxy.url, port: port)

        let id = try submit("--", "echo", "registered", "twice", server: server)
        try eventually("the run to finish; server log: \(server.output)") {
            ["done", "failed", "stopped"].contains(try status(id) ?? "")
        }
        XCTAssertEqual(try status(id), "done", server.output)
        XCTAssertEqual(try ok("logs", id), "registered twice\n")

        let registrations = proxy.requests.filter { $0.method == "POST" && $0.path == RunnerAPI.registerPath }
        XCTAssertEqual(registrations.count, 2, "the runner registered, lost the reply, and registered again")
        XCTAssertEqual(proxy.faults.map(\.request), ["POST \(RunnerAPI.registerPath)"])
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)
        XCTAssertTrue(server.output.contains("runner on \(instance) registered (local"), server.output)
        XCTAssertTrue(server.output.contains("runner on \(instance) registered again (its first reply was lost"), server.output)
        XCTAssertTrue(try liveInstances().contains { $0["id"]?.stringValue == instance },
                      "the instance was not powered off after its second registration")
    }
}
