import DstackTesting
import DstackWire
import Foundation
import XCTest

/// `GET /metrics`: Prometheus text that prometheus_client's parser reads, behind an
/// admin's token unless the server makes it public, whose counters move as runs go through.
final class MetricsTests: XCTestCase {
    var server: WebServerHarness!

    override func tearDown() {
        server?.stop()
        server?.removeHome()
        super.tearDown()
    }

    struct Sample: Equatable {
        var family: String
        var type: String
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples of a scrape, as prometheus_client parses them.
    func scrape(token: String?) throws -> [Sample] {
        let reply = try server.get("/metrics", token: token)
        XCTAssertEqual(reply.status, 200, reply.bodyText)
        XCTAssertTrue(reply.headers.first { $0.name.lowercased() == "content-type" }?.value.hasPrefix("text/plain") ?? false)
        let parsed = try runCommand("/usr/bin/env", ["python3", WebTestScripts.path("parse_metrics.py")], stdin: reply.bodyText)
        if parsed.stderr.contains("No module named 'prometheus_client'") {
            throw HarnessError("prometheus_client is not installed: pip install prometheus_client (make test does)")
        }
        guard parsed.status == 0 else { throw HarnessError("the parser refused the text: \(parsed.stderr)\n\(reply.bodyText)") }
        return try parsed.stdout.split(separator: "\n").map { line in
            let json = try JSONValue.parse(String(line))
            var labels: [String: String] = [:]
            for (key, value) in json["labels"]?.objectValue?.entries ?? [] { labels[key] = value.stringValue }
            return Sample(family: json["family"]?.stringValue ?? "", type: json["type"]?.stringValue ?? "",
                          name: json["name"]?.stringValue ?? "", labels: labels, value: json["value"]?.doubleValue ?? .nan)
        }
    }

    func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    func testMetricsNeedAnAdminsTokenAndParseAsPrometheusText() throws {
        server = try WebServerHarness()
        let bob = try server.addUser("bob")
        XCTAssertEqual(try server.get("/metrics").status, 401, "no token")
        XCTAssertEqual(try server.get("/metrics", token: "not-a-token").status, 401, "a wrong token")
        XCTAssertEqual(try server.get("/metrics", token: bob).status, 403, "a user who is not an admin")

        let samples = try scrape(token: server.adminToken)
        let families = Set(samples.map(\.family))
        for family in ["dstack_runs", "dstack_queue_oldest_waiting_seconds", "dstack_reconcile_pass_duration_seconds",
                       "dstack_spot_interruptions", "dstack_spend_dollars", "dstack_instances_terminated"] {
            XCTAssertTrue(families.contains(family), "no \(family) in \(families.sorted())")
        }
        XCTAssertEqual(samples.first { $0.family == "dstack_reconcile_pass_duration_seconds" }?.type, "histogram")
        XCTAssertEqual(value(samples, "dstack_spot_interruptions_total"), 0, "interruptions start at 0")
        XCTAssertEqual(value(samples, "dstack_spend_dollars"), 0, "no provider reports prices yet")
        XCTAssertEqual(value(samples, "dstack_runs", ["status": "done"]), 0)
    }

    func testCountersMoveAsARunGoesThrough() throws {
        server = try WebServerHarness()
        try server.configureLocal(max: 1)
        let admin = server.adminToken
        try waitUntil("a reconcile pass after configuring") {
            (value(try scrape(token: admin), "dstack_provider_operations_total", ["operation": "list"]) ?? 0) > 0
        }
        let before = try scrape(token: admin)

        let id = try server.submit(workflow: "metrics", commands: ["echo counted"], token: admin)
        try waitUntil("run \(id) to finish") { try server.runStatus(id, token: admin) == "done" }
        let after = try scrape(token: admin)

        XCTAssertEqual(value(after, "dstack_runs", ["status": "done"]), 1)
        XCTAssertEqual(value(after, "dstack_runs", ["status": "pending"]), 0)
        XCTAssertEqual(value(after, "dstack_instances_launched_total", ["instance_type": "local"]), 1)
        XCTAssertEqual(value(after, "dstack_runs_assigned_total"), (value(before, "dstack_runs_assigned_total") ?? 0) + 1)
        XCTAssertGreaterThan(value(after, "dstack_reconcile_pass_duration_seconds_count") ?? 0,
                             value(before, "dstack_reconcile_pass_duration_seconds_count") ?? 0)
        XCTAssertGreaterThan(value(after, "dstack_provider_operations_total", ["operation": "request_spot"]) ?? 0, 0)
        XCTAssertEqual(value(after, "dstack_instances", ["instance_type": "local", "state": "running"]), 1,
                       "the runner's instance, as the last pass listed it")
        XCTAssertEqual(value(after, "dstack_queue_oldest_waiting_seconds"), 0, "nothing waits")
    }

    func testMetricsPublicServesWithoutAToken() throws {
        server = try WebServerHarness(arguments: ["--metrics-public"])
        let reply = try server.get("/metrics")
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.bodyText.contains("# TYPE dstack_runs gauge"), reply.bodyText)
    }
}
