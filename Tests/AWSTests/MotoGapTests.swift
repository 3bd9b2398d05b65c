@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// Paths moto cannot exercise, on the scripted local EC2:
/// - moto ignores a spot launch specification's security group, so instances are never
///   found by dstack's group there; here they are, with no state to help;
/// - moto 500s on the `launch.group-id` and `instance-lifecycle` filters and never
///   paginates spot requests;
/// - moto answers CancelSpotInstanceRequests for an unknown ID with a 500, and never
///   with the `InvalidSpotInstanceRequestID.NotFound` that EC2 sends.
final class MotoGapTests: XCTestCase {
    func testListFindsInstancesByTheGroupAcrossPagesWithoutState() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeSecurityGroups", FakeEC2.ok("DescribeSecurityGroups",
               "<securityGroupInfo><item><groupId>sg-1</groupId><groupName>dstack-fake</groupName></item></securityGroupInfo>"))
        ec2.on("DescribeSpotInstanceRequests",
               FakeEC2.ok("DescribeSpotInstanceRequests", """
                   <spotInstanceRequestSet>\(Self.request("sir-open", state: "open", group: "sg-1"))\
                   \(Self.request("sir-foreign", state: "open", group: "sg-other"))</spotInstanceRequestSet><nextToken>page-2</nextToken>
                   """),
               FakeEC2.ok("DescribeSpotInstanceRequests", """
                   <spotInstanceRequestSet>\(Self.request("sir-active", state: "active", group: "sg-1", instance: "i-1"))</spotInstanceRequestSet>
                   """))
        ec2.on("DescribeInstances", FakeEC2.ok("DescribeInstances", """
            <reservationSet><item><instancesSet>\(Self.instance("i-1", state: "running", request: "sir-active"))\
            \(Self.instance("i-2", state: "terminated", request: nil))</instancesSet></item></reservationSet>
            """))
        ec2.on("ModifyInstanceMetadataOptions", FakeEC2.ok("ModifyInstanceMetadataOptions", "<instanceId>i-1</instanceId>"))
        let provider = try ec2.provider()
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id).sorted(), ["i-1", "i-2", "sir-open"])
        let open = try XCTUnwrap(listed.first { $0.id == "sir-open" })
        XCTAssertTrue(open.isUnfulfilledRequest)
        XCTAssertEqual(open.state, .pending)
        XCTAssertEqual(listed.first { $0.id == "i-1" }?.spotRequestID, "sir-active")
        XCTAssertEqual(listed.first { $0.id == "i-1" }?.extras["private_ip"], "10.0.0.1")
        XCTAssertEqual(listed.first { $0.id == "i-2" }?.state, .terminated)

        // One call per kind per page: two pages of requests, one of instances, no per-instance calls.
        let requestCalls = ec2.calls("DescribeSpotInstanceRequests")
        XCTAssertEqual(requestCalls.count, 2)
        XCTAssertNil(requestCalls[0]["NextToken"])
        XCTAssertEqual(requestCalls[1]["NextToken"], "page-2")
        let instanceCalls = ec2.calls("DescribeInstances")
        XCTAssertEqual(instanceCalls.count, 1)
        XCTAssertEqual(instanceCalls[0]["Filter.1.Name"], "instance.group-id")
        XCTAssertEqual(instanceCalls[0]["Filter.1.Value.1"], "sg-1")

        // An instance that came up with IMDSv1 allowed gets IMDSv2 required, once.
        XCTAssertEqual(ec2.calls("ModifyInstanceMetadataOptions").map { $0["InstanceId"] }, ["i-1"])
        XCTAssertEqual(ec2.calls("ModifyInstanceMetadataOptions").first?["HttpTokens"], "required")
        _ = try await provider.list()
        XCTAssertEqual(ec2.calls("ModifyInstanceMetadataOptions").count, 1)
        XCTAssertEqual(ec2.calls("DescribeSecurityGroups").count, 1, "the group is looked up once per process")
    }

    func testTerminateRetriesABatchWithoutTheIDsEC2SaysAreGone() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeSpotInstanceRequests",
               FakeEC2.error(400, "InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID 'sir-gone' does not exist"),
               FakeEC2.ok("DescribeSpotInstanceRequests", """
                   <spotInstanceRequestSet>\(Self.request("sir-live", state: "active", group: "sg-1", instance: "i-launched"))</spotInstanceRequestSet>
                   """))
        ec2.on("CancelSpotInstanceRequests", FakeEC2.ok("CancelSpotInstanceRequests", "<spotInstanceRequestSet/>"))
        ec2.on("TerminateInstances",
               FakeEC2.error(400, "InvalidInstanceID.NotFound", "The instance IDs 'i-gone1, i-gone2' do not exist"),
               FakeEC2.ok("TerminateInstances", "<instancesSet/>"))
        try await ec2.provider().terminate(TerminationTarget(instanceIDs: ["i-gone1", "i-a", "i-gone2", "i-b"],
                                                             spotRequestIDs: ["sir-gone", "sir-live"]))
        let cancels = ec2.calls("CancelSpotInstanceRequests")
        XCTAssertEqual(cancels.count, 1)
        XCTAssertEqual(cancels[0]["SpotInstanceRequestId.1"], "sir-live")
        XCTAssertNil(cancels[0]["SpotInstanceRequestId.2"])
        let terminations = ec2.calls("TerminateInstances")
        XCTAssertEqual(terminations.count, 2)
        XCTAssertEqual(Self.ids(terminations[1], "InstanceId"), ["i-a", "i-b", "i-launched"],
                       "the rest of the batch, plus the instance the request launched")
    }

    func testTerminateSendsAtMostAThousandIDsACall() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("TerminateInstances", FakeEC2.ok("TerminateInstances", "<instancesSet/>"))
        let ids = (0..<2500).map { String(format: "i-%017x", $0) }
        try await ec2.provider().terminate(TerminationTarget(instanceIDs: ids))
        let batches = ec2.calls("TerminateInstances").map { Self.ids($0, "InstanceId").count }
        XCTAssertEqual(batches, [1000, 1000, 500])
    }

    func testANotFoundMessageWithoutIDsIsNarrowedByHalving() async throws {
        // Any batch holding i-x fails with a message naming no ID; the rest must still go.
        let server = try LocalHTTPServer { request in
            let parameters = FakeEC2.parameters(request.bodyText)
            if parameters.values.contains("i-x") {
                return FakeEC2.error(400, "InvalidInstanceID.NotFound", "An instance does not exist")
            }
            return FakeEC2.ok("TerminateInstances", "<instancesSet/>")
        }
        defer { server.stop() }
        let provider = try makeTestProvider(endpoint: server.url, retry: RetryPolicy(maxAttempts: 1))
        try await provider.terminate(TerminationTarget(instanceIDs: ["i-a", "i-b", "i-x", "i-c"]))
        let terminated = server.requests.map { FakeEC2.parameters($0.bodyText) }
            .filter { !$0.values.contains("i-x") }.flatMap { Self.ids($0, "InstanceId") }
        XCTAssertEqual(Set(terminated), ["i-a", "i-b", "i-c"])
    }

    func testIDsInNotFoundMessagesAreParsed() {
        let reply = EC2ErrorReply(status: 400, code: "InvalidInstanceID.NotFound",
                                  message: "The instance IDs 'i-0123456789abcdef0, i-0fedcba9876543210' do not exist", requestID: nil)
        XCTAssertEqual(reply.missingIDs(prefixes: ["i-"]), ["i-0123456789abcdef0", "i-0fedcba9876543210"])
        let single = EC2ErrorReply(status: 400, code: "InvalidSpotInstanceRequestID.NotFound",
                                   message: "The spot instance request ID 'sir-abc123' does not exist", requestID: nil)
        XCTAssertEqual(single.missingIDs(prefixes: ["sir-"]), ["sir-abc123"])
    }

    static func ids(_ parameters: [String: String], _ name: String) -> [String] {
        parameters.filter { $0.key.hasPrefix(name + ".") }
            .sorted { Int($0.key.split(separator: ".")[1])! < Int($1.key.split(separator: ".")[1])! }.map(\.value)
    }

    static func request(_ id: String, state: String, group: String, instance: String? = nil) -> String {
        "<item><spotInstanceRequestId>\(id)</spotInstanceRequestId><state>\(state)</state>"
            + (instance.map { "<instanceId>\($0)</instanceId>" } ?? "")
            + "<launchSpecification><instanceType>m5.xlarge</instanceType><groupSet><item><groupId>\(group)</groupId></item></groupSet></launchSpecification>"
            + "<createTime>2026-01-01T00:00:00.000Z</createTime><status><code>pending-fulfillment</code></status></item>"
    }

    static func instance(_ id: String, state: String, request: String?) -> String {
        "<item><instanceId>\(id)</instanceId><instanceType>m5.xlarge</instanceType><instanceState><code>16</code><name>\(state)</name></instanceState>"
            + "<launchTime>2026-01-01T00:01:00.000Z</launchTime><privateIpAddress>10.0.0.1</privateIpAddress>"
            + "<metadataOptions><httpTokens>optional</httpTokens></metadataOptions>"
            + (request.map { "<spotInstanceRequestId>\($0)</spotInstanceRequestId>" } ?? "")
            + "<groupSet><item><groupId>sg-1</groupId></item></groupSet></item>"
    }
}
