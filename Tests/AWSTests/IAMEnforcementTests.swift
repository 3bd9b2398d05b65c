@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// moto with IAM enforcement on: every call after the setup ones must carry a valid
/// SigV4 signature of a known key and be allowed by that key's policy. A user holding
/// exactly the seed's permissions must be able to do everything dstack does.
final class IAMEnforcementTests: XCTestCase {
    static let seedActions = [
        "ec2:Describe*", "ec2:RequestSpotInstances", "ec2:TerminateInstances", "ec2:CancelSpotInstanceRequests",
        "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
    ]
    /// Calls that run before enforcement starts: 2 users × (create, put policy, create key).
    static let setupCalls = 6

    var moto: MotoServer!
    var seedKey: (id: String, secret: String)!
    var noSpotKey: (id: String, secret: String)!

    override func setUpWithError() throws {
        moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": String(Self.setupCalls)])
        let keys = try JSONValue.parse(try runPython(setupScript()))
        seedKey = (try XCTUnwrap(keys["seed"]?["id"]?.stringValue), try XCTUnwrap(keys["seed"]?["secret"]?.stringValue))
        noSpotKey = (try XCTUnwrap(keys["nospot"]?["id"]?.stringValue), try XCTUnwrap(keys["nospot"]?["secret"]?.stringValue))
    }

    override func tearDown() {
        moto?.stop()
    }

    private func policy(_ actions: [String]) -> String {
        #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["# + actions.map { "\"\($0)\"" }.joined(separator: ", ")
            + #"], "Resource": "*"}]}"#
    }

    private func setupScript() -> String {
        """
        import boto3, json
        iam = boto3.client("iam", endpoint_url="\(moto.url)", region_name="us-east-1",
                           aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
        out = {}
        for name, policy in [("seed", '\(policy(Self.seedActions))'),
                             ("nospot", '\(policy(Self.seedActions.filter { $0 != "ec2:RequestSpotInstances" }))')]:
            iam.create_user(UserName="dstack-" + name)
            iam.put_user_policy(UserName="dstack-" + name, PolicyName="dstack", PolicyDocument=policy)
            key = iam.create_access_key(UserName="dstack-" + name)["AccessKey"]
            out[name] = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
        print(json.dumps(out))
        """
    }

    func testTheSeedPolicyIsEnoughForEveryOperation() async throws {
        let provider = try makeTestProvider(endpoint: moto.url, accessKey: seedKey.id, secret: seedKey.secret)
        try await provider.verifyConfiguration()
        try await ProviderConformance(provider: provider, goodInstanceType: "m5.xlarge", badInstanceType: "m5.bogus").runAll()
        // CreateTags and ModifyInstanceMetadataOptions are not in the policy: tried once, denied, skipped since.
        let denied = await provider.resources.deniedActions
        XCTAssertEqual(denied, ["CreateTags", "ModifyInstanceMetadataOptions"])
        XCTAssertFalse(moto.logText.contains("500 -"), "moto answered a call with a server error:\n\(moto.logText)")
    }

    func testThePublishedPolicyIsExactlyTheOneTested() throws {
        let policy = try JSONValue.parse(awsMinimalIAMPolicy)
        let actions = policy["Statement"]?.arrayValue?.first?["Action"]?.arrayValue?.compactMap(\.stringValue)
        XCTAssertEqual(actions, Self.seedActions)
    }

    func testAWrongSecretIsRejectedCredentials() async throws {
        let provider = try makeTestProvider(endpoint: moto.url, accessKey: seedKey.id, secret: seedKey.secret + "x")
        do {
            try await provider.verifyConfiguration()
            XCTFail("a wrong secret was accepted")
        } catch let error as ProviderError {
            guard case .invalidCredentials = error else { return XCTFail("expected invalidCredentials, got \(error)") }
            XCTAssertTrue(error.userMessage.hasPrefix("the credentials were rejected"), error.userMessage)
            XCTAssertFalse(error.userMessage.contains(seedKey.secret), "the secret must never be shown")
        }
    }

    func testAnUnknownKeyIsRejectedCredentials() async throws {
        let provider = try makeTestProvider(endpoint: moto.url, accessKey: "AKIAUNKNOWNKEY000000", secret: "nope")
        do {
            _ = try await provider.validateInstanceType("m5.xlarge")
            XCTFail("an unknown key was accepted")
        } catch ProviderError.invalidCredentials(let detail) {
            XCTAssertTrue(detail.contains("AuthFailure"), detail)
        }
    }

    func testADeniedActionIsNamed() async throws {
        let provider = try makeTestProvider(endpoint: moto.url, accessKey: noSpotKey.id, secret: noSpotKey.secret)
        do {
            _ = try await provider.requestSpot(SpotRequest(instanceType: "m5.xlarge", count: 1, userData: "", idempotencyToken: "denied"))
            XCTFail("RequestSpotInstances was allowed without the permission")
        } catch ProviderError.accessDenied(let action, _) {
            XCTAssertEqual(action, "ec2:RequestSpotInstances")
        }
    }
}
