import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack aws configure` with no keys: Enter at both key prompts saves none, and the
/// server finds credentials by itself, in its own environment: the environment's keys,
/// an `AWS_PROFILE` profile, or an instance role from IMDSv2 (a stub metadata server
/// handing out a moto role's temporary key). moto enforces IAM with exactly the seed's
/// policy, so an instance that launches proves those credentials signed the calls.
final class CredentialChainOnMotoTests: XCTestCase {
    var moto: MotoServer!
    var dstack: DstackServerOnMoto!
    var metadata: LocalHTTPServer?

    override func tearDown() {
        dstack?.stop()
        metadata?.stop()
        moto?.stop()
    }

    private var seedPolicy: String { S3BucketOnMotoTests.policy(buckets: []) }

    func testConfigureWithOnlyTheServersEnvironmentKeys() throws {
        moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        let key = try makeMotoUser(moto, name: "dstack-env", policy: seedPolicy)
        dstack = try DstackServerOnMoto()
        try dstack.start(environment: ["AWS_ACCESS_KEY_ID": key.id, "AWS_SECRET_ACCESS_KEY": key.secret])
        // Keys saved earlier are dropped by giving them empty.
        let stale = try dstack.dstack("aws", "configure", "--no-verify", "--access-key-id", "AKIASTALE00000000000",
                                      "--secret-access-key", "stale-secret", "--region", "us-east-1", "--artifact-s3-bucket", "")
        XCTAssertEqual(stale.status, 0, stale.stderr)
        XCTAssertTrue(dstack.configJSON.contains("AKIASTALE00000000000"))
        let dropped = try dstack.dstack("aws", "configure", "--access-key-id", "", "--secret-access-key", "", "--endpoint-url", moto.url,
                                        input: "\n\n")
        XCTAssertEqual(dropped.status, 0, dropped.stderr)
        try configureWithEnterAndLaunch(shownKey: "[****************\(key.id.suffix(4))]: ", credentials: key)
    }

    func testConfigureWithOnlyAProfile() throws {
        moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        let key = try makeMotoUser(moto, name: "dstack-profile", policy: seedPolicy)
        dstack = try DstackServerOnMoto()
        let aws = dstack.serverHome.appendingPathComponent(".aws")
        try FileManager.default.createDirectory(at: aws, withIntermediateDirectories: true)
        // The default profile holds a key moto does not know: only AWS_PROFILE's may be used.
        try """
            [default]
            aws_access_key_id = AKIAWRONGDEFAULT0000
            aws_secret_access_key = wrong
            [ci]
            aws_access_key_id = \(key.id)
            aws_secret_access_key = \(key.secret)
            """.write(to: aws.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try dstack.start(environment: ["AWS_PROFILE": "ci"])
        try configureWithEnterAndLaunch(shownKey: "[****************\(key.id.suffix(4))]: ", credentials: key)
    }

    func testConfigureWithOnlyAnInstanceRoleFromIMDSv2() throws {
        moto = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        // A role with the seed policy, and a temporary key of it (ASIA…, with a session token).
        let role = try JSONValue.parse(try runPython("""
            import boto3, json
            kw = dict(endpoint_url="\(moto.url)", region_name="us-east-1", aws_access_key_id="AKIDSETUP", aws_secret_access_key="setup")
            iam = boto3.client("iam", **kw)
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            arn = iam.create_role(RoleName="dstack-instance", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            iam.put_role_policy(RoleName="dstack-instance", PolicyName="dstack", PolicyDocument='\(seedPolicy)')
            c = boto3.client("sts", **kw).assume_role(RoleArn=arn, RoleSessionName="i-0123")["Credentials"]
            print(json.dumps({"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"]}))
            """))
        let id = try XCTUnwrap(role["AccessKeyId"]?.stringValue)
        let secret = try XCTUnwrap(role["SecretAccessKey"]?.stringValue)
        let token = try XCTUnwrap(role["Token"]?.stringValue)
        XCTAssertTrue(id.hasPrefix("ASIA"), id)
        let document = #"{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "\#(id)", "SecretAccessKey": "\#(secret)", "Token": "\#(token)", "Expiration": "2099-01-01T00:00:00Z"}"#
        let metadata = try LocalHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                return request.header("X-aws-ec2-metadata-token-ttl-seconds") != nil ? .init(body: "imdsv2-token") : .init(status: 400)
            case (_, _) where request.header("X-aws-ec2-metadata-token") != "imdsv2-token":
                return .init(status: 401) // IMDSv1 is off, as dstack asks of its own instances
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                return .init(body: "dstack-instance")
            case ("GET", "/latest/meta-data/iam/security-credentials/dstack-instance"):
                return .init(body: document)
            default:
                return .init(status: 404)
            }
        }
        self.metadata = metadata
        dstack = try DstackServerOnMoto()
        try dstack.start(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata.url])
        try configureWithEnterAndLaunch(shownKey: "AWS Access Key ID [None]: ", credentials: (id, secret))
        XCTAssertTrue(metadata.requests.contains { $0.path == "/latest/meta-data/iam/security-credentials/dstack-instance" },
                      "the role's credentials came from the metadata server")
    }

    /// Enter at both key prompts; the prompt shows what the server would use; no key is
    /// saved; verification, allow and a launch then work through the server's chain.
    private func configureWithEnterAndLaunch(shownKey: String, credentials: (id: String, secret: String),
                                             file: StaticString = #filePath, line: UInt = #line) throws {
        // A runner URL, since no runner for EC2's architecture need be built here (none boots).
        let configure = try dstack.dstack("aws", "configure", "--endpoint-url", moto.url,
                                          "--runner-url", "https://dstack.invalid/dstack-runner", input: "\n\nus-east-1\n\n")
        XCTAssertEqual(configure.status, 0, configure.stderr, file: file, line: line)
        XCTAssertTrue(configure.stdout.contains(shownKey), "expected \(shownKey) in: \(configure.stdout)", file: file, line: line)
        XCTAssertTrue(configure.stdout.contains("AWS Secret Access Key ["), configure.stdout, file: file, line: line)
        XCTAssertFalse(configure.stdout.contains(credentials.secret) || configure.stdout.contains(credentials.id),
                       "a key is shown only masked", file: file, line: line)
        let saved = dstack.configJSON
        XCTAssertTrue(saved.contains("us-east-1"), saved, file: file, line: line)
        XCTAssertFalse(saved.contains("access_key_id") || saved.contains("secret_access_key"), "no key is saved: \(saved)",
                       file: file, line: line)

        let allow = try dstack.dstack("autoscale", "allow", "m5.xlarge", "--max", "1")
        XCTAssertEqual(allow.status, 0, allow.stderr, file: file, line: line)
        let request = try dstack.dstack("instances", "request", "m5.xlarge", "--count", "1")
        XCTAssertEqual(request.status, 0, request.stderr, file: file, line: line)
        let listed = try dstack.dstack("instances", "list", "--json")
        let ids = try JSONValue.parse(listed.stdout).arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        XCTAssertEqual(ids.count, 1, listed.stdout + listed.stderr, file: file, line: line)
    }

    /// Without keys anywhere, verification says where it looked, and nothing is saved.
    func testConfigureWithNoCredentialsAnywhereSaysSoAndSavesNothing() throws {
        moto = try MotoServer()
        dstack = try DstackServerOnMoto()
        try dstack.start(environment: [:])
        let configure = try dstack.dstack("aws", "configure", "--endpoint-url", moto.url, input: "\n\nus-east-1\n\n")
        XCTAssertEqual(configure.status, 1, configure.stderr)
        XCTAssertTrue(configure.stdout.contains("AWS Access Key ID [None]: "), configure.stdout)
        XCTAssertTrue(configure.stderr.contains("no AWS credentials"), configure.stderr)
        XCTAssertEqual(configure.stderr.split(whereSeparator: \.isNewline).count, 1, configure.stderr)
        XCTAssertEqual(dstack.configJSON, "", "nothing saved")
    }

    /// A key ID without its secret is refused rather than silently mixed with the environment's.
    func testAKeyIDWithoutItsSecretIsRefused() throws {
        moto = try MotoServer()
        dstack = try DstackServerOnMoto()
        try dstack.start(environment: ["AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00000", "AWS_SECRET_ACCESS_KEY": "env-secret"])
        let configure = try dstack.dstack("aws", "configure", "--endpoint-url", moto.url, input: "AKIAONLYTHEID0000000\n\nus-east-1\n\n")
        XCTAssertEqual(configure.status, 1, configure.stderr)
        XCTAssertTrue(configure.stderr.contains("without its Secret Access Key"), configure.stderr)
        XCTAssertEqual(dstack.configJSON, "", "nothing saved")
    }
}
