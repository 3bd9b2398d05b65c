@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// Faults the emulator cannot produce, from a local server the test scripts. Each ends
/// in a retry or a clear `ProviderError`, never a crash.
final class FaultTests: XCTestCase {
    func testThrottlingIsRetriedWithCappedExponentialBackoffThenSucceeds() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.error(503, "RequestLimitExceeded", "Request limit exceeded."),
               FakeEC2.error(400, "Throttling", "Rate exceeded"), FakeEC2.error(503, "RequestLimitExceeded", "again"),
               FakeEC2.regions)
        try await ec2.provider(maxAttempts: 5).verifyConfiguration()
        XCTAssertEqual(ec2.calls("DescribeRegions").count, 4)
        XCTAssertEqual(ec2.sleeps.all, [0.1, 0.2, 0.4], "base·2ⁿ, capped at 0.4, scaled by the jitter draw")
    }

    func testCallsReuseOneKeptAliveConnection() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.regions)
        let provider = try ec2.provider()
        for _ in 0..<5 { try await provider.verifyConfiguration() }
        XCTAssertEqual(ec2.calls("DescribeRegions").count, 5)
        XCTAssertEqual(ec2.server.connectionsAccepted, 1)
    }

    func testThrottlingThatNeverStopsEndsThrottledAfterBoundedAttempts() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.error(503, "RequestLimitExceeded", "Request limit exceeded."))
        do {
            try await ec2.provider(maxAttempts: 3).verifyConfiguration()
            XCTFail("expected throttled")
        } catch ProviderError.throttled(let detail) {
            XCTAssertTrue(detail.contains("RequestLimitExceeded"), detail)
        }
        XCTAssertEqual(ec2.calls("DescribeRegions").count, 3)
    }

    func testServerErrorsAndDroppedConnectionsAreRetried() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", .init(status: 500, body: "<html>Internal Server Error</html>"),
               FakeEC2.error(503, "Unavailable", "The service is unavailable."),
               .init(dropConnection: true), FakeEC2.regions)
        try await ec2.provider(maxAttempts: 4).verifyConfiguration()
        XCTAssertEqual(ec2.calls("DescribeRegions").count, 4)
    }

    func testATimeoutIsRetriedThenReportedAsTransport() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", .init(status: 200, body: "late", delay: 2))
        let curl = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 0.3, proxy: ProxySettings()))
        do {
            try await ec2.provider(maxAttempts: 2, transport: curl).verifyConfiguration()
            XCTFail("expected a transport error")
        } catch ProviderError.transport(let detail) {
            XCTAssertTrue(detail.contains("DescribeRegions") && detail.contains("2 attempts"), detail)
        }
        XCTAssertEqual(ec2.sleeps.all.count, 1, "one retry between the two attempts")
    }

    func testMalformedXMLIsAClearTransportError() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", .init(status: 200, body: "<DescribeRegionsResponse><regionInfo><item>"))
        do {
            try await ec2.provider().verifyConfiguration()
            XCTFail("expected a transport error")
        } catch ProviderError.transport(let detail) {
            XCTAssertTrue(detail.contains("not XML"), detail)
        }
        ec2.on("DescribeRegions", .init(status: 403, body: "<html>forbidden by a proxy</html>"))
        do {
            try await ec2.provider().verifyConfiguration()
            XCTFail("expected a transport error")
        } catch ProviderError.transport(let detail) {
            XCTAssertTrue(detail.contains("HTTP 403"), detail)
        }
    }

    func testUnauthorizedOperationNamesTheActionAndIsNotRetried() async throws {
        let ec2 = try makeFakeEC2()
        Self.offerM5XLargeWithUbuntu(ec2)
        ec2.on("DescribeSecurityGroups", FakeEC2.ok("DescribeSecurityGroups",
               "<securityGroupInfo><item><groupId>sg-1</groupId><groupName>dstack-fake</groupName></item></securityGroupInfo>"))
        ec2.on("RequestSpotInstances", FakeEC2.error(403, "UnauthorizedOperation", "You are not authorized to perform this operation."))
        let provider = try ec2.provider()
        do {
            _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 1, userData: "x", idempotencyToken: "t"))
            XCTFail("expected accessDenied")
        } catch let error as ProviderError {
            XCTAssertEqual(error, .accessDenied(action: "ec2:RequestSpotInstances",
                                                detail: "UnauthorizedOperation: You are not authorized to perform this operation."))
            XCTAssertTrue(error.userMessage.contains("ec2:RequestSpotInstances"))
        }
        XCTAssertEqual(ec2.calls("RequestSpotInstances").count, 1)
        // The newest LTS of the architecture was chosen, and the group dstack owns was used.
        XCTAssertEqual(ec2.calls("RequestSpotInstances").first?["LaunchSpecification.ImageId"], "ami-noble")
        XCTAssertEqual(ec2.calls("RequestSpotInstances").first?["LaunchSpecification.SecurityGroupId.1"], "sg-1")
        XCTAssertEqual(ec2.calls("RequestSpotInstances").first?["LaunchSpecification.UserData"], "eA==")
    }

    func testCapacityErrorsAreReportedNotRetried() async throws {
        let ec2 = try makeFakeEC2()
        Self.offerM5XLargeWithUbuntu(ec2)
        ec2.on("DescribeSecurityGroups", FakeEC2.ok("DescribeSecurityGroups", "<securityGroupInfo/>"))
        ec2.on("CreateSecurityGroup", FakeEC2.ok("CreateSecurityGroup", "<return>true</return><groupId>sg-new</groupId>"))
        ec2.on("RequestSpotInstances", FakeEC2.error(500, "InsufficientInstanceCapacity", "There is no Spot capacity available."))
        let provider = try ec2.provider()
        do {
            _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 1, userData: "", idempotencyToken: "t",
                                                           maxPrice: "0.1"))
            XCTFail("expected capacityUnavailable")
        } catch ProviderError.capacityUnavailable(let type, let detail) {
            XCTAssertEqual(type, "m5.xlarge")
            XCTAssertTrue(detail.contains("InsufficientInstanceCapacity"))
        }
        XCTAssertEqual(ec2.calls("RequestSpotInstances").count, 1)
        XCTAssertEqual(ec2.calls("CreateSecurityGroup").first?["GroupName"], "dstack-fake")
        XCTAssertEqual(ec2.calls("RequestSpotInstances").first?["SpotPrice"], "0.1")
        XCTAssertEqual(ec2.calls("RequestSpotInstances").first?["ClientToken"], "t")
    }

    func testOtherClientErrorsAreNotRetried() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.error(400, "InvalidParameterValue", "Invalid region"))
        do {
            try await ec2.provider().verifyConfiguration()
            XCTFail("expected a cloud error")
        } catch let error as ProviderError {
            XCTAssertEqual(error, .cloud(code: "InvalidParameterValue", detail: "Invalid region"))
        }
        XCTAssertEqual(ec2.calls("DescribeRegions").count, 1)
        XCTAssertTrue(ec2.sleeps.all.isEmpty)
    }

    func testRejectedCredentialsAreInvalidCredentials() async throws {
        for code in ["AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId"] {
            let ec2 = try makeFakeEC2()
            ec2.on("DescribeRegions", FakeEC2.error(401, code, "no"))
            do {
                try await ec2.provider().verifyConfiguration()
                XCTFail("expected invalidCredentials for \(code)")
            } catch let error as ProviderError {
                XCTAssertEqual(error, .invalidCredentials(detail: "\(code): no"))
                XCTAssertTrue(error.userMessage.hasPrefix("the credentials were rejected"))
            }
        }
    }

    static let m5xlarge = """
        <instanceTypeSet><item><instanceType>m5.xlarge</instanceType><supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses>\
        <processorInfo><supportedArchitectures><item>x86_64</item></supportedArchitectures></processorInfo>\
        <vCpuInfo><defaultVCpus>4</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>16384</sizeInMiB></memoryInfo></item></instanceTypeSet>
        """
    static let ubuntuImages = """
        <imagesSet>\
        <item><imageId>ami-jammy</imageId><name>ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240501</name><creationDate>2024-05-01T00:00:00.000Z</creationDate></item>\
        <item><imageId>ami-noble-old</imageId><name>ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423</name><creationDate>2024-04-23T00:00:00.000Z</creationDate></item>\
        <item><imageId>ami-noble</imageId><name>ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240701</name><creationDate>2024-07-01T00:00:00.000Z</creationDate></item>\
        <item><imageId>ami-oracular</imageId><name>ubuntu/images/hvm-ssd-gp3/ubuntu-oracular-24.10-amd64-server-20241009</name><creationDate>2024-10-09T00:00:00.000Z</creationDate></item>\
        </imagesSet>
        """
}

extension FaultTests {
    /// What every launch looks up first: m5.xlarge exists, is offered, and Ubuntu images exist.
    static func offerM5XLargeWithUbuntu(_ ec2: FakeEC2) {
        ec2.on("DescribeInstanceTypes", FakeEC2.ok("DescribeInstanceTypes", m5xlarge))
        ec2.on("DescribeInstanceTypeOfferings", FakeEC2.ok("DescribeInstanceTypeOfferings",
               "<instanceTypeOfferingSet><item><instanceType>m5.xlarge</instanceType></item></instanceTypeOfferingSet>"))
        ec2.on("DescribeImages", FakeEC2.ok("DescribeImages", ubuntuImages))
    }
}
