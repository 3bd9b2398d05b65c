import DstackCore
import DstackTesting
import Foundation
import XCTest

/// The runner API over real HTTP: who may call what.
final class RunnerAPITests: CLITestCase {
    var server: ServerProcess!
    let http = CurlHTTPClient(options: .init(proxy: ProxySettings()))

    override func setUp() {
        super.setUp()
        do { try startWithTwoInstances() } catch { XCTFail("set-up failed: \(error)") }
    }

    private func startWithTwoInstances() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        server = try startServer()
        // Two registered instances whose tokens the test knows.
        let state = try openState()
        try state.write { tx in
            try tx.journalBatch(token: "seed", vendor: "other", instanceType: "local", count: 2, registrationHash: "none")
            for (id, token) in [("inst-a", "token-a"), ("inst-b", "token-b")] {
                try tx.registerInstance(id: id, vendor: "other", instanceType: "local", spotRequestID: nil, batchToken: "seed",
                                        tokenHash: TokenHash.sha256Hex(token))
            }
        }
    }

    override func tearDown() {
        server?.stop()
        super.tearDown()
    }

    private func get(_ path: String, token: String?) throws -> HTTPResponse {
        try http.sendBlocking(HTTPRequest(url: server.url + path, headers: token.map { [RunnerAPI.authorization($0)] } ?? []))
    }

    private func post(_ path: String, _ body: String, token: String? = nil) throws -> HTTPResponse {
        try http.sendBlocking(HTTPRequest(method: "POST", url: server.url + path,
                                          headers: token.map { [RunnerAPI.authorization($0)] } ?? [], body: body))
    }

    func testACallWithoutATokenIs401() throws {
        let reply = try get(RunnerAPI.assignmentPath(instance: "inst-a") + "?wait=0", token: nil)
        XCTAssertEqual(reply.status, 401)
        XCTAssertEqual(try JSONValue.parse(reply.body)["error"], "a bearer token is required")
    }

    func testAWrongTokenIs401() throws {
        XCTAssertEqual(try get(RunnerAPI.assignmentPath(instance: "inst-a") + "?wait=0", token: "guess").status, 401)
        XCTAssertEqual(try post(RunnerAPI.heartbeatPath(instance: "inst-a"), "{}", token: "guess").status, 401)
    }

    func testATokenActingForAnotherInstanceIs403() throws {
        XCTAssertEqual(try get(RunnerAPI.assignmentPath(instance: "inst-a") + "?wait=0", token: "token-b").status, 403)
        XCTAssertEqual(try post(RunnerAPI.logsPath(instance: "inst-a", run: "run-x"),
                                #"{"attempt": 1, "stream": "stdout", "text": "hi"}"#, token: "token-b").status, 403)
        XCTAssertEqual(try post(RunnerAPI.exitPath(instance: "inst-a", run: "run-x"), #"{"attempt": 1, "exit_code": 0}"#,
                                token: "token-b").status, 403)
    }

    func testTheRightTokenIsAccepted() throws {
        XCTAssertEqual(try get(RunnerAPI.assignmentPath(instance: "inst-a") + "?wait=0", token: "token-a").status, 204)
        let beat = try post(RunnerAPI.heartbeatPath(instance: "inst-a"), #"{"run_id": null}"#, token: "token-a")
        XCTAssertEqual(beat.status, 200)
        XCTAssertEqual(try JSONValue.parse(beat.body)["stop"], false)
        XCTAssertEqual(try post(RunnerAPI.logsPath(instance: "inst-a", run: "run-x"),
                                #"{"attempt": 1, "stream": "stdout", "text": "hi"}"#, token: "token-a").status, 404)
    }

    func testTheCodeRouteAnswersOnlyTheInstanceTheRunIsAssignedTo() throws {
        try "shipped\n".write(to: workingDirectory.appendingPathComponent("main.py"), atomically: false, encoding: .utf8)
        // A type no rule allows: the server never places it, so the test assigns it to inst-a.
        let id = try ok("run", "-d", "--wait", "--instance-type", "nowhere", "--", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        let state = try openState()
        let code = try XCTUnwrap(try state.read { try $0.run(id)?.code })
        try state.write { tx in
            _ = try tx.startAttempt(id, on: "inst-a")
            _ = try tx.assign(runID: id, to: "inst-a")
        }
        let path = RunnerAPI.codePath(instance: "inst-a", run: id)
        let reply = try get(path, token: "token-a")
        XCTAssertEqual(reply.status, 200, reply.bodyText)
        XCTAssertEqual(reply.body, Array(try Data(contentsOf: home.appendingPathComponent("code/\(code.sha256).tar.gz"))))
        XCTAssertEqual(reply.body.count, code.size)

        XCTAssertEqual(try get(path, token: nil).status, 401)
        XCTAssertEqual(try get(path, token: "guess").status, 401)
        XCTAssertEqual(try get(path, token: "token-b").status, 403, "inst-b's token acting for inst-a")
        let other = try get(RunnerAPI.codePath(instance: "inst-b", run: id), token: "token-b")
        XCTAssertEqual(other.status, 403, "the run is not assigned to inst-b")
        XCTAssertEqual(try JSONValue.parse(other.body)["error"]?.stringValue, "run \(id) is not assigned to instance inst-b")
    }

    func testMalformedBodiesAre400() throws {
        XCTAssertEqual(try post(RunnerAPI.registerPath, "not json").status, 400)
        XCTAssertEqual(try post(RunnerAPI.registerPath, #"{"instance_id": 5}"#).status, 400)
        XCTAssertEqual(try post(RunnerAPI.heartbeatPath(instance: "inst-a"), "[", token: "token-a").status, 400)
    }

    func testABodyWithABadValueIs400WithOneSentenceNamingTheField() throws {
        let register = try post(RunnerAPI.registerPath, #"{"instance_id": 5, "registration_token": "t"}"#)
        XCTAssertEqual(register.status, 400)
        XCTAssertEqual(try JSONValue.parse(register.body)["error"], "malformed request: instance_id: expected a string, got 5")
        let beat = try post(RunnerAPI.heartbeatPath(instance: "inst-a"), #"{"run_id": ["r"], "attempt": 1}"#, token: "token-a")
        XCTAssertEqual(beat.status, 400, "a mistyped run_id is not read as an idle runner")
        XCTAssertEqual(try JSONValue.parse(beat.body)["error"], "malformed request: run_id: expected a string, got an array")
        let exit = try post(RunnerAPI.exitPath(instance: "inst-a", run: "r"), #"{"attempt": 1, "exit_code": "0"}"#, token: "token-a")
        XCTAssertEqual(exit.status, 400)
        XCTAssertEqual(try JSONValue.parse(exit.body)["error"], #"malformed request: exit_code: expected a whole number, got "0""#)
    }

    func testRegistrationNeedsAKnownTokenAndIsIdempotentForItsOwnLaunch() throws {
        XCTAssertEqual(try post(RunnerAPI.registerPath, #"{"instance_id": "local-1", "registration_token": "made-up"}"#).status, 401)

        // A real runner registers through its user data.
        let id = try submit("--", "true", server: server)
        try eventually("the run to finish") { try status(id) == "done" }
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)
        let userData = try String(contentsOf: home.appendingPathComponent("local/instances/\(instance)/user-data.sh"), encoding: .utf8)
        let token = try XCTUnwrap(userData.components(separatedBy: "DSTACK_REGISTRATION_TOKEN='").last?.split(separator: "'").first)
        XCTAssertFalse(userData.contains("AWS_"), "no cloud credentials in user data")

        // Its reply lost, it registers again with the same token: a fresh token, which works,
        // and takes the next run (the first token is void, so nothing else can).
        let again = try post(RunnerAPI.registerPath, #"{"instance_id": "\#(instance)", "registration_token": "\#(token)"}"#)
        XCTAssertEqual(again.status, 200, again.bodyText)
        let reply = try RunnerAPI.RegisterReply(json: JSONValue.parse(again.body))
        XCTAssertEqual(reply.instanceID, instance)
        let next = try submit("--", "true", server: server)
        var assignment: HTTPResponse?
        try eventually("the next run to be handed to the token given on re-registration") {
            assignment = try get(RunnerAPI.assignmentPath(instance: instance) + "?wait=1", token: reply.token)
            return assignment?.status == 200
        }
        XCTAssertEqual(try RunnerAPI.Assignment(json: JSONValue.parse(assignment!.body)).runID, next)

        // Another launch's registration token for a registered instance is a conflict.
        let other = try post(RunnerAPI.registerPath, #"{"instance_id": "inst-a", "registration_token": "\#(token)"}"#)
        XCTAssertEqual(other.status, 409, other.bodyText)
    }
}
