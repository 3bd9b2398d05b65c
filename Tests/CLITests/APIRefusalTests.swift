import DstackAPI
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Bad input to the API gets its own 4xx and one JSON sentence, never a 5xx, an empty
/// body or a silent guess (each case one that schemathesis found).
final class APIRefusalTests: CLITestCase {
    private var server: ServerProcess?

    private var adminToken: String {
        (try? String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    private func call(_ method: String, _ path: String, body: String = "",
                      contentType: String? = "application/json") throws -> HTTPResponse {
        let server = try self.server ?? startServer()
        self.server = server
        var headers = [HTTPHeader("Authorization", "Bearer \(adminToken)")]
        if let contentType { headers.append(HTTPHeader("Content-Type", contentType)) }
        return try CurlHTTPClient().sendBlocking(HTTPRequest(method: method, url: server.url + path, headers: headers, body: body))
    }

    /// The status, and the one sentence of the JSON error body.
    private func refusal(_ reply: HTTPResponse, file: StaticString = #filePath, line: UInt = #line) -> (Int, String) {
        let sentence = (try? JSONValue.parse(reply.bodyText))?["error"]?.stringValue
        XCTAssertNotNil(sentence, "no JSON error body: \(reply.status) \(reply.bodyText)", file: file, line: line)
        XCTAssertFalse(sentence?.contains("\n") ?? true, "more than one line: \(reply.bodyText)", file: file, line: line)
        return (reply.status, sentence ?? "")
    }

    func testAMethodAPathDoesNotTakeIsA405NamingTheOnesItDoes() throws {
        let reply = try call("DELETE", APIPaths.runs)
        let (status, sentence) = refusal(reply)
        XCTAssertEqual(status, 405)
        XCTAssertEqual(reply.headers.first { $0.name.lowercased() == "allow" }?.value, "POST, GET")
        XCTAssertEqual(sentence, "/api/v1/runs does not take DELETE; it takes POST, GET")
        XCTAssertEqual(refusal(try call("TRACE", APIPaths.run("run-1"))).0, 405)
    }

    func testAnUnknownAPIPathIsA404WithASentence() throws {
        let (status, sentence) = refusal(try call("GET", APIPaths.prefix + "/nope"))
        XCTAssertEqual(status, 404)
        XCTAssertEqual(sentence, "the API has no route /api/v1/nope; /api/v1/openapi.json lists them")
        XCTAssertEqual(refusal(try call("GET", APIPaths.runLogs("run-1") + "/more")).0, 404)
    }

    func testABodyThatIsNotDeclaredJSONIsA415AndAddsNoUser() throws {
        let body = #"{"name":"carol","role":"user"}"#
        let (status, sentence) = refusal(try call("POST", APIPaths.users, body: body, contentType: "text/plain"))
        XCTAssertEqual(status, 415)
        XCTAssertEqual(sentence, "this route takes a body of Content-Type application/json, not Content-Type text/plain")
        XCTAssertEqual(refusal(try call("POST", APIPaths.users, body: body, contentType: nil)).0, 415)
        XCTAssertFalse(try ok("users", "list").contains("carol"))
        XCTAssertEqual(try call("POST", APIPaths.users, body: body, contentType: "application/json; charset=utf-8").status, 201)
    }

    func testAnUnknownFieldIsRefusedNotIgnored() throws {
        server = try startServer()
        try ok("local", "configure")
        let (status, sentence) = refusal(try call("PUT", APIPaths.rule("local"), body: #"{"max":1,"maxx":2}"#))
        XCTAssertEqual(status, 400)
        XCTAssertEqual(sentence, "malformed request: maxx: not a known field")
        XCTAssertEqual(try JSONValue.parse(try ok("autoscale", "info", "--json"))["rules"]?.arrayValue, [], "no rule was added")
    }

    func testABodyOverTheLimitIsA413() throws {
        let (status, sentence) = refusal(try call("POST", APIPaths.users, body: String(repeating: " ", count: 2 << 20)))
        XCTAssertEqual(status, 413)
        XCTAssertTrue(sentence.hasPrefix("the request body is too large"), sentence)
    }

    func testQueryValuesOutsideTheDocumentedRangeAreA400() throws {
        server = try startServer()
        try ok("local", "configure")
        let (status, sentence) = refusal(try call("GET", APIPaths.runs + "?all=yes"))
        XCTAssertEqual(status, 400)
        XCTAssertEqual(sentence, "all must be true or false, got 'yes'")
        let run = try XCTUnwrap(try JSONValue.parse(try call("POST", APIPaths.runs,
            body: #"{"commands":["true"],"requirements":{},"environment":{},"wait":true}"#).bodyText)["id"]?.stringValue)
        let logs = refusal(try call("GET", APIPaths.runLogs(run) + "?wait=31"))
        XCTAssertEqual(logs.0, 400)
        XCTAssertEqual(logs.1, "wait must be a whole number from 0 to 30, got '31'")
    }
}
