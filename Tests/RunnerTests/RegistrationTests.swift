import DstackCore
import DstackRunnerKit
import DstackTesting
import Foundation
import XCTest

final class RegistrationTests: XCTestCase {
    func testRegistrationIsRetriedAfter503sAndLaterCallsCarryTheBearerToken() throws {
        let server = try FakeRunnerServer(registerFailures: 2)
        let runner = InProcessRunner(server: server.url)
        defer { runner.stop(); server.stop() }

        XCTAssertTrue(waitUntil { server.heartbeats.count >= 2 }, runner.output)
        let registrations = server.registrations
        XCTAssertEqual(registrations.count, 3, "two 503s, then success")
        XCTAssertTrue(registrations.allSatisfy {
            $0 == RunnerAPI.RegisterRequest(instanceID: "i-0123456789abcdef0", registrationToken: FakeRunnerServer.registrationToken)
        })
        let later = server.requests.filter { !$0.path.hasPrefix(RunnerAPI.registerPath) }
        XCTAssertFalse(later.isEmpty)
        for request in later {
            XCTAssertEqual(request.header("Authorization"), "Bearer \(FakeRunnerServer.instanceToken)", request.path)
        }
        XCTAssertTrue(later.contains { $0.method == "GET" && $0.path.hasPrefix("/api/runners/i-0123456789abcdef0/assignment?wait=1") })
        XCTAssertNil(runner.exitCode)
    }

    func testARefusedRegistrationTakesTheOrphanActionAtOnce() throws {
        let server = try FakeRunnerServer(registerRefusal: 409)
        let runner = InProcessRunner(server: server.url, orphanTimeout: 3600)
        defer { runner.stop(); server.stop() }

        XCTAssertTrue(waitUntil { runner.exitCode != nil }, runner.output)
        XCTAssertEqual(runner.exitCode, 0)
        XCTAssertEqual(server.registrations.count, 1, "a 409 is final")
        XCTAssertTrue(runner.output.contains("refused the registration (409)"), runner.output)
        XCTAssertTrue(runner.output.contains("orphaned"), runner.output)
        XCTAssertFalse(runner.output.contains(FakeRunnerServer.registrationToken))
    }

    func testTheInstanceIDComesFromIMDSv2WithASessionToken() throws {
        let imdsToken = "imds-session-token-xyz"
        let metadata = try LocalHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                guard request.header("X-aws-ec2-metadata-token-ttl-seconds") == "21600" else { return .init(status: 400) }
                return .init(status: 200, body: imdsToken)
            case ("GET", "/latest/meta-data/instance-id"):
                // IMDSv1 (no token) is refused, as on an instance with HttpTokens=required.
                guard request.header("X-aws-ec2-metadata-token") == imdsToken else { return .init(status: 401) }
                return .init(status: 200, body: "i-0feedfacecafe0001")
            default:
                return .init(status: 404)
            }
        }
        let server = try FakeRunnerServer()
        let runner = InProcessRunner(server: server.url, instanceID: nil, metadataURL: metadata.url)
        defer { runner.stop(); server.stop(); metadata.stop() }

        XCTAssertTrue(waitUntil { !server.registrations.isEmpty }, runner.output)
        XCTAssertEqual(server.registrations.first?.instanceID, "i-0feedfacecafe0001")
        let calls = metadata.requests
        XCTAssertEqual(calls.first?.method, "PUT", "the session token comes first")
        XCTAssertEqual(calls.filter { $0.method == "GET" && $0.header("X-aws-ec2-metadata-token") == nil }.count, 0,
                       "never an IMDSv1 GET without a token")
        // Then, registered, it watches the same service for spot notices.
        XCTAssertEqual(calls.prefix(2).map(\.path), ["/latest/api/token", "/latest/meta-data/instance-id"])
        let record = try JSONValue.parse(String(contentsOfFile: runner.stateDirectory + "/runner.json", encoding: .utf8))
        XCTAssertEqual(record["instance_id"]?.stringValue, "i-0feedfacecafe0001")
    }
}
