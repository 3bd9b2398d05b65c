@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// The provider against moto's EC2 emulator: the conformance kit, and boto3 confirming
/// that the emulator holds what the provider says it does.
final class MotoConformanceTests: XCTestCase {
    var moto: MotoServer!

    override func setUpWithError() throws {
        moto = try MotoServer()
    }

    override func tearDown() {
        moto?.stop()
    }

    func testConformanceKitPasses() async throws {
        let provider = try makeTestProvider(endpoint: moto.url)
        try await provider.verifyConfiguration()
        let unreachable = try makeTestProvider(endpoint: "http://127.0.0.1:\(try LocalPort.free())")
        try await ProviderConformance(provider: provider, goodInstanceType: "m5.xlarge", badInstanceType: "m5.bogus",
                                      otherInstallation: try makeTestProvider(endpoint: moto.url),
                                      misconfigured: unreachable).runAll()
    }

    func testValidateReturnsEC2Facts() async throws {
        let provider = try makeTestProvider(endpoint: moto.url)
        let facts = try await provider.validateInstanceType("m5.xlarge")
        var sized = facts
        sized.spotPricesByZone = [:]
        sized.spotPricePerHour = nil
        sized.spotPriceHistory = []
        XCTAssertEqual(sized, InstanceTypeFacts(name: "m5.xlarge", vcpus: 4, memoryMiB: 16384, gpus: [], architecture: "x86_64"))
        // The spot price of each zone, from DescribeSpotPriceHistory (moto prices every zone the same).
        XCTAssertTrue(facts.spotPricesByZone.keys.contains("us-east-1a"), "\(facts.spotPricesByZone)")
        XCTAssertEqual(facts.spotPricePerHour, facts.spotPricesByZone.values.min())
        // The history entries those prices came from, with EC2's timestamps, for the cost model.
        XCTAssertEqual(Set(facts.spotPriceHistory.map(\.zone)), Set(facts.spotPricesByZone.keys))
        for (zone, price) in facts.spotPricesByZone {
            let latest = facts.spotPriceHistory.filter { $0.zone == zone }.max { $0.at < $1.at }
            XCTAssertEqual(latest?.pricePerHour, price, zone)
        }
        let gpu = try await provider.validateInstanceType("g4dn.xlarge")
        XCTAssertEqual(gpu.gpus, [GPUFacts(count: 1, model: "NVIDIA T4", memoryMiB: 16384)])
    }

    func testBoto3SeesWhatTheProviderLists() async throws {
        let provider = try makeTestProvider(endpoint: moto.url)
        let launch = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 2, userData: "#!/bin/sh\necho hi\n",
                                                                idempotencyToken: "boto3-check", maxPrice: "0.25"))
        XCTAssertEqual(launch.spotRequestIDs.count, 2)
        let listed = try await provider.list(known: KnownResources(spotRequestIDs: launch.spotRequestIDs))
        XCTAssertEqual(listed.count, 2)

        let script = """
            import boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret")
            sirs = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=\(pythonList(launch.spotRequestIDs)))["SpotInstanceRequests"]
            out = {"requests": {}, "instances": {}}
            for s in sirs:
                out["requests"][s["SpotInstanceRequestId"]] = {"instance": s.get("InstanceId"), "price": s.get("SpotPrice"),
                    "type": s["LaunchSpecification"]["InstanceType"], "image": s["LaunchSpecification"]["ImageId"],
                    "userdata": s["LaunchSpecification"].get("UserData")}
            ids = [s["InstanceId"] for s in sirs if s.get("InstanceId")]
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                for i in r["Instances"]:
                    out["instances"][i["InstanceId"]] = {"type": i["InstanceType"], "state": i["State"]["Name"],
                        "tokens": i.get("MetadataOptions", {}).get("HttpTokens")}
            groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["\(provider.securityGroupName)"]}])["SecurityGroups"]
            out["group_ingress"] = [g["IpPermissions"] for g in groups]
            print(json.dumps(out))
            """
        let emulator = try JSONValue.parse(try runPython(script))
        let requests = try XCTUnwrap(emulator["requests"]?.objectValue)
        XCTAssertEqual(Set(requests.keys), Set(launch.spotRequestIDs))
        for (_, request) in requests.entries {
            XCTAssertEqual(request["type"]?.stringValue, "m5.xlarge")
            XCTAssertEqual(request["price"]?.stringValue.flatMap(Double.init), 0.25)
        }
        let instances = try XCTUnwrap(emulator["instances"]?.objectValue)
        XCTAssertEqual(Set(instances.keys), Set(listed.map(\.id)), "the provider lists exactly the instances EC2 holds")
        for instance in listed {
            XCTAssertEqual(instances[instance.id]?["type"]?.stringValue, instance.instanceType)
            XCTAssertEqual(instances[instance.id]?["state"]?.stringValue, instance.state.rawValue)
            XCTAssertEqual(instances[instance.id]?["tokens"]?.stringValue, "required", "IMDSv2 is required afterwards")
            XCTAssertNotNil(instance.spotRequestID)
        }
        XCTAssertEqual(emulator["group_ingress"], .array([.array([])]), "dstack's group exists with no inbound rules")

        try await provider.terminate(TerminationTarget(instances: listed))
        let afterScript = """
            import boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret")
            r = ec2.describe_instances(InstanceIds=\(pythonList(listed.map(\.id))))
            print(json.dumps(sorted({i["State"]["Name"] for res in r["Reservations"] for i in res["Instances"]})))
            """
        let states = try JSONValue.parse(try runPython(afterScript)).arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertFalse(states.isEmpty)
        XCTAssertTrue(states.allSatisfy { $0 == "shutting-down" || $0 == "terminated" }, "EC2 says: \(states)")
    }

    func testTerminateSkipsIDsAlreadyGoneAndStillTerminatesTheRest() async throws {
        let provider = try makeTestProvider(endpoint: moto.url)
        let launch = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 1, userData: "", idempotencyToken: "gone"))
        let instance = try XCTUnwrap(launch.instances.first)
        try await provider.terminate(TerminationTarget(instanceIDs: ["i-0123456789abcdef0", instance.id, "i-0fedcba9876543210"],
                                                       spotRequestIDs: ["sir-00000000"] + launch.spotRequestIDs))
        let listed = try await provider.list(known: KnownResources(instanceIDs: [instance.id]))
        XCTAssertEqual(listed.first { $0.id == instance.id }?.state.isLive, false)
    }

    func testConfiguredIngressRulesAreAuthorized() async throws {
        let provider = try makeTestProvider(endpoint: moto.url, extraSettings: ["ingress_rules": "tcp:22:203.0.113.0/24"])
        _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 1, userData: "", idempotencyToken: "ingress"))
        let script = """
            import boto3, json
            ec2 = boto3.client("ec2", endpoint_url="\(moto.url)", region_name="us-east-1",
                               aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret")
            g = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["\(provider.securityGroupName)"]}])["SecurityGroups"][0]
            print(json.dumps([[p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]]] for p in g["IpPermissions"]]))
            """
        XCTAssertEqual(try runPython(script), #"[["tcp", 22, 22, ["203.0.113.0/24"]]]"#)
    }
}

func pythonList(_ items: [String]) -> String {
    "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
}
