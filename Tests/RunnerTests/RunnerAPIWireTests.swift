import DstackWire
import XCTest

/// The runner API's bodies are Codable structs; their JSON is exactly what the
/// hand-written dictionaries sent before (so old runners and servers still agree), and a
/// body with a bad value is an error naming the field, never a default.
final class RunnerAPIWireTests: XCTestCase {
    func testEachBodyKeepsItsWireFormat() {
        XCTAssertEqual(RunnerAPI.RegisterRequest(instanceID: "i-1", registrationToken: "t").json.serialized(),
                       #"{"instance_id":"i-1","registration_token":"t"}"#)
        XCTAssertEqual(RunnerAPI.RegisterReply(token: "t", instanceID: "i-1").json.serialized(), #"{"token":"t","instance_id":"i-1"}"#)
        XCTAssertEqual(
            RunnerAPI.Assignment(runID: "r", attempt: 2, commands: ["make", "test"], env: ["B": "2", "A": "1"],
                                 code: .init(sha256: "ab", size: 42)).json.serialized(),
            #"{"run_id":"r","attempt":2,"commands":["make","test"],"env":{"A":"1","B":"2"},"code":{"sha256":"ab","size":42}}"#)
        XCTAssertEqual(RunnerAPI.Assignment(runID: "r", attempt: 1, commands: []).json.serialized(),
                       #"{"run_id":"r","attempt":1,"commands":[],"env":{}}"#)
        XCTAssertEqual(RunnerAPI.Assignment(runID: "r", attempt: 1, commands: [], artifacts: ["out"], deps: ["run-a"]).json.serialized(),
                       #"{"run_id":"r","attempt":1,"commands":[],"env":{},"artifacts":["out"],"deps":["run-a"]}"#)
        XCTAssertEqual(RunnerAPI.UploadRequest(attempt: 1, path: "out/a", size: 3, sha256: "ab").json.serialized(),
                       #"{"attempt":1,"path":"out/a","size":3,"sha256":"ab"}"#)
        XCTAssertEqual(RunnerAPI.Manifest(attempt: 1, complete: false, reason: "why", files: [.init(path: "a", size: 1, sha256: "ab")])
                        .json.serialized(),
                       #"{"attempt":1,"complete":false,"reason":"why","files":[{"path":"a","size":1,"sha256":"ab"}]}"#)
        XCTAssertEqual(RunnerAPI.LogChunk(attempt: 1, stream: .stderr, text: "oops\n").json.serialized(),
                       #"{"attempt":1,"stream":"stderr","text":"oops\n"}"#)
        XCTAssertEqual(RunnerAPI.RunExit(attempt: 1, exitCode: 3).json.serialized(), #"{"attempt":1,"exit_code":3}"#)
        XCTAssertEqual(RunnerAPI.Heartbeat().json.serialized(), #"{"run_id":null,"attempt":null}"#)
        XCTAssertEqual(RunnerAPI.Heartbeat(runID: "r", attempt: 4).json.serialized(), #"{"run_id":"r","attempt":4}"#)
        XCTAssertEqual(RunnerAPI.RunControl(stop: true).json.serialized(), #"{"stop":true}"#)
    }

    func testEachBodyReadsBackWhatItWrote() throws {
        XCTAssertEqual(try RunnerAPI.Heartbeat(json: RunnerAPI.Heartbeat().json), RunnerAPI.Heartbeat())
        XCTAssertEqual(try RunnerAPI.Heartbeat(json: ["run_id": "r", "attempt": 4]), RunnerAPI.Heartbeat(runID: "r", attempt: 4))
        XCTAssertEqual(try RunnerAPI.LogChunk(json: ["attempt": 1, "stream": "stdout", "text": ""]),
                       RunnerAPI.LogChunk(attempt: 1, stream: .stdout, text: ""))
        XCTAssertEqual(try RunnerAPI.RegisterReply(json: ["token": "t", "instance_id": "i", "newer_field": true]),
                       RunnerAPI.RegisterReply(token: "t", instanceID: "i"))
    }

    func testABadValueIsAnErrorNamingTheField() {
        XCTAssertEqual(error { try RunnerAPI.RegisterRequest(json: ["instance_id": 5, "registration_token": "t"]) },
                       "instance_id: expected a string, got 5")
        XCTAssertEqual(error { try RunnerAPI.RegisterRequest(json: ["instance_id": "i"]) }, "registration_token: missing")
        XCTAssertEqual(error { try RunnerAPI.LogChunk(json: ["attempt": 1, "stream": "stdin", "text": ""]) },
                       #"stream: expected one of "stdout", "stderr", got "stdin""#)
        XCTAssertEqual(error { try RunnerAPI.RunExit(json: ["attempt": 1, "exit_code": 1.5]) },
                       "exit_code: expected a whole number, got 1.5")
        XCTAssertEqual(error { try RunnerAPI.Assignment(json: ["run_id": "r", "attempt": 1, "commands": ["a", 2]]) },
                       "commands[1]: expected a string, got 2")
        XCTAssertEqual(error { try RunnerAPI.Assignment(json: ["run_id": "r", "attempt": 1, "commands": [], "code": ["sha256": "x"]]) },
                       "code.size: missing")
        // Before: a mistyped heartbeat read as "no run", and a reply without "stop" as "go on".
        XCTAssertEqual(error { try RunnerAPI.Heartbeat(json: ["run_id": 5, "attempt": nil]) }, "run_id: expected a string, got 5")
        XCTAssertEqual(error { try RunnerAPI.RunControl(json: [:]) }, "stop: missing")
        XCTAssertEqual(error { try RunnerAPI.RunControl(json: ["stop": "yes"]) }, #"stop: expected true or false, got "yes""#)
    }

    private func error(_ body: () throws -> some Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }
}
