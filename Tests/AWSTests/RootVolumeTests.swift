@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// A run's `disk:` reaches EC2 as the root volume of its instances. moto accepts a spot
/// launch specification's BlockDeviceMapping but does not keep it (its spot instances
/// get the image's default volume), so the request is checked as EC2 receives it: every
/// call goes to moto through a transport that records it.
final class RootVolumeTests: XCTestCase {
    var moto: MotoServer!

    override func setUpWithError() throws {
        moto = try MotoServer()
    }

    override func tearDown() {
        moto?.stop()
    }

    private func spotRequests(_ recorder: RecordingTransport) -> [[String: String]] {
        recorder.requests.map { FakeEC2.parameters(String(decoding: $0.body, as: UTF8.self)) }
            .filter { $0["Action"] == "RequestSpotInstances" }
    }

    /// The root device name moto's image has, as boto3 sees it.
    private func rootDeviceName(_ image: String) throws -> String {
        try runPython("""
            import boto3
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret")
            print(ec2.describe_images(ImageIds=["\(image)"])["Images"][0]["RootDeviceName"], end="")
            """)
    }

    func testADiskSizesTheRootVolumeOnTheImagesRootDevice() async throws {
        let recorder = RecordingTransport()
        let provider = try makeTestProvider(endpoint: moto.url, transport: recorder)
        _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.large", count: 1, userData: "", idempotencyToken: "disk-100",
                                                       diskGB: 100))
        let request = try XCTUnwrap(spotRequests(recorder).last)
        let image = try XCTUnwrap(request["LaunchSpecification.ImageId"])
        XCTAssertEqual(request["LaunchSpecification.BlockDeviceMapping.1.DeviceName"], try rootDeviceName(image))
        XCTAssertEqual(request["LaunchSpecification.BlockDeviceMapping.1.Ebs.VolumeSize"], "100")
        XCTAssertEqual(request["LaunchSpecification.BlockDeviceMapping.1.Ebs.VolumeType"], "gp3")
        XCTAssertEqual(request["LaunchSpecification.BlockDeviceMapping.1.Ebs.DeleteOnTermination"], "true")

        _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.large", count: 1, userData: "", idempotencyToken: "disk-200",
                                                       diskGB: 200))
        XCTAssertEqual(spotRequests(recorder).last?["LaunchSpecification.BlockDeviceMapping.1.Ebs.VolumeSize"], "200")
        let imageLookups = recorder.requests.filter {
            let parameters = FakeEC2.parameters(String(decoding: $0.body, as: UTF8.self))
            return parameters["Action"] == "DescribeImages" && parameters["ImageId.1"] != nil
        }
        XCTAssertEqual(imageLookups.count, 1, "an image's root device is looked up once per process")
    }

    func testWithoutADiskTheImagesDefaultVolumeIsKept() async throws {
        let recorder = RecordingTransport()
        let provider = try makeTestProvider(endpoint: moto.url, transport: recorder)
        _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.large", count: 1, userData: "", idempotencyToken: "no-disk"))
        let request = try XCTUnwrap(spotRequests(recorder).last)
        XCTAssertFalse(request.keys.contains { $0.contains("BlockDeviceMapping") }, "\(request)")
    }
}

/// Sends through libcurl and keeps every request, for tests that check what the
/// provider sent.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private let http = CurlHTTPClient(options: .init(proxy: ProxySettings()))

    var requests: [HTTPRequest] { lock.withLock { recorded } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        lock.withLock { recorded.append(request) }
        return try await http.send(request)
    }
}
