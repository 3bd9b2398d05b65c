@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// The server's metrics hear of every EC2 request by its action, with EC2's error code
/// when it failed, and of every throttled request sent again.
final class CloudCallObserverTests: XCTestCase {
    final class Recorder: CloudCallObserver, @unchecked Sendable { // `lock` guards `events`
        private let lock = NSLock()
        private var recorded: [String] = []
        var events: [String] { lock.withLock { recorded } }
        func cloudAPICall(action: String, errorCode: String?) { lock.withLock { recorded.append("call \(action) \(errorCode ?? "ok")") } }
        func throttlingRetry(action: String) { lock.withLock { recorded.append("retry \(action)") } }
        func providerOperation(_ operation: String, error: ProviderError?) {
            lock.withLock { recorded.append("operation \(operation) \(error?.kindName ?? "ok")") }
        }
    }

    func provider(_ ec2: FakeEC2, observer: Recorder) throws -> any CloudProvider {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-observer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: home) }
        let context = ProviderContext(installationID: "fake", home: home,
                                      environment: ["HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true"], callObserver: observer)
        let aws = try AWSProvider(settings: ["access_key_id": "AKIDTEST", "secret_access_key": "test-secret", "region": "us-east-1",
                                             "endpoint_url": ec2.server.url], context: context,
                                  options: .init(retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.01, sleep: { _ in })))
        return ObservedCloudProvider(aws, observer: observer)
    }

    func testEachRequestItsErrorCodeAndEachThrottledRetryAreReported() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.error(503, "RequestLimitExceeded", "Request limit exceeded."), FakeEC2.regions)
        let observer = Recorder()
        try await provider(ec2, observer: observer).verifyConfiguration()
        XCTAssertEqual(observer.events, [
            "call DescribeRegions RequestLimitExceeded",
            "retry DescribeRegions",
            "call DescribeRegions ok",
            "operation verify_configuration ok",
        ])
    }

    func testAFailedOperationIsReportedWithItsKind() async throws {
        let ec2 = try makeFakeEC2()
        ec2.on("DescribeRegions", FakeEC2.error(401, "AuthFailure", "AWS was not able to validate the provided access credentials"))
        let observer = Recorder()
        do {
            try await provider(ec2, observer: observer).verifyConfiguration()
            XCTFail("expected the credentials to be refused")
        } catch is ProviderError {}
        XCTAssertEqual(observer.events, ["call DescribeRegions AuthFailure", "operation verify_configuration invalid_credentials"])
    }
}
