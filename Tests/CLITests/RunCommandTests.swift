import DstackCore
import DstackTesting
import XCTest

/// `dstack run` and friends without a server: what they accept and what they refuse.
final class RunCommandTests: CLITestCase {
    override func setUp() {
        super.setUp()
        _ = try? dstack("local", "configure")
    }

    private func workflowsFile(_ text: String) throws -> URL {
        let folder = home.appendingPathComponent("project/.dstack")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("workflows.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    func testAWorkflowIsSubmittedWithItsCommandsAndResources() throws {
        let file = try workflowsFile("workflows:\n  - name: train\n    commands: [python train.py]\n    resources:\n      memory: 8GB\n")
        let id = try ok("run", "--detach", "--wait", "--file", file.path, "train").trimmingCharacters(in: .whitespacesAndNewlines)
        let runs = try JSONValue.parse(try ok("ps", "--json")).arrayValue ?? []
        XCTAssertEqual(runs.first?["id"]?.stringValue, id)
        XCTAssertEqual(runs.first?["workflow"], "train")
        XCTAssertTrue(["submitted", "pending"].contains(runs.first?["status"]?.stringValue), "it waits: \(runs)")
    }

    func testAnAdHocCommandKeepsItsArgumentsQuoted() throws {
        let id = try ok("run", "-d", "--wait", "--", "echo", "a b", "it's").trimmingCharacters(in: .whitespacesAndNewlines)
        let state = try openState()
        XCTAssertEqual(try state.read { try $0.run(id)?.commands }, [#"echo 'a b' 'it'\''s'"#])
    }

    func testBadRunInputIsOneLineAndSubmitsNothing() throws {
        let file = try workflowsFile("workflows:\n  - name: a\n    commands: [x]\n    resources:\n      cpu: many\n")
        try fails(["run"], saying: "give a WORKFLOW name or a command after --")
        try fails(["run", "train", "--", "echo"], saying: "not both")
        try fails(["run", "--memory", "lots", "--", "true"], saying: "--memory must be a size such as 16GB or 512MB, got 'lots'")
        try fails(["run", "--cpu", "0", "--", "true"], saying: "--cpu must be a whole number above 0")
        try fails(["run", "--instance-type", "m5.large", "--cpu", "2", "--", "true"], saying: "not both")
        try fails(["run", "--file", file.path, "a"], saying: "\(file.path):5: 'cpu' must be a whole number above 0")
        try fails(["run", "--file", home.appendingPathComponent("missing.yaml").path, "a"], saying: "cannot read the file")
        let good = try workflowsFile("workflows:\n  - name: a\n    commands: [x]\n")
        try fails(["run", "--file", good.path, "b"], saying: "has no workflow named 'b'; it has a")
        XCTAssertEqual(try ok("ps", "--json"), "[]\n")
    }

    func testStopAWaitingRunEndsIt() throws {
        let id = try ok("run", "-d", "--wait", "--", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try ok("stop", String(id.prefix(8))), "Stopping \(id).\n", "a unique prefix names the run")
        try fails(["stop", "run-nope"], saying: "no run 'run-nope'")
        try fails(["logs", "run-nope"], saying: "no run 'run-nope'")
    }

    func testServerFlagsAreChecked() throws {
        try fails(["server", "--idle-timeout", "soon"], saying: "--idle-timeout must be a duration such as 30s, 5m or 1h, got 'soon'")
        try fails(["server", "--reconcile-interval", "0"], saying: "--reconcile-interval must be a duration above 0")
        try fails(["server", "--max-retries", "-1"], saying: "--max-retries must be a whole number of 0 or more")
        try fails(["server", "--port", "70000"], saying: "--port must be 0 to 65535")
    }

    func testAServerWhosePortIsTakenSaysSoAndExitsWithOne() throws {
        let occupant = try LocalHTTPServer { _ in LocalHTTPServer.Response() }
        defer { occupant.stop() }
        stopBackgroundServer() // the home's own server is not the occupant this test is about
        let result = try dstack("server", "--port", String(occupant.port))
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.stderr, "dstack: port \(occupant.port) on 127.0.0.1 is in use\n")
    }

    func testPsSaysWhenThereAreNoRuns() throws {
        XCTAssertEqual(try ok("ps"), "No runs. Submit one with: dstack run WORKFLOW, or dstack run -- CMD ARGS...\n")
    }
}
