@testable import DstackAWS
import DstackCore
import DstackTesting
import XCTest

/// Credentials, region and endpoint are found the way AWS users expect, from the
/// injected environment and HOME only.
final class ConfigurationTests: XCTestCase {
    var home: URL!

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try """
            [default]
            aws_access_key_id = AKIDPROFILEDEFAULT
            aws_secret_access_key = default-secret
            # a comment
            [dev]
            aws_access_key_id=AKIDPROFILEDEV
            aws_secret_access_key=dev-secret
            aws_session_token=dev-token
            """.write(to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        try """
            [default]
            region = eu-west-1
            [profile dev]
            region = ap-south-1
            """.write(to: home.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: home)
    }

    private func chain(_ settings: ProviderSettings, _ environment: [String: String]) -> CredentialsChain {
        var environment = environment
        environment["HOME"] = home.path
        return CredentialsChain(settings: settings, environment: environment, files: AWSConfigFiles.load(environment: environment), imds: nil)
    }

    func testCredentialsComeFromSettingsThenEnvironmentThenProfile() {
        let environment = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token"]
        let fromSettings = chain(["access_key_id": "AKIDSETTINGS", "secret_access_key": "s"], environment).staticCredentials()
        XCTAssertEqual(fromSettings?.accessKeyID, "AKIDSETTINGS")
        XCTAssertNil(fromSettings?.sessionToken)
        let fromEnvironment = chain([:], environment).staticCredentials()
        XCTAssertEqual(fromEnvironment, AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token",
                                                       source: "environment"))
        XCTAssertEqual(chain([:], [:]).staticCredentials()?.accessKeyID, "AKIDPROFILEDEFAULT")
        let dev = chain([:], ["AWS_PROFILE": "dev"]).staticCredentials()
        XCTAssertEqual(dev?.accessKeyID, "AKIDPROFILEDEV")
        XCTAssertEqual(dev?.sessionToken, "dev-token")
        XCTAssertNil(chain([:], ["AWS_PROFILE": "missing"]).staticCredentials())
    }

    func testCredentialsDescriptionNeverShowsTheSecret() {
        let credentials = AWSCredentials(accessKeyID: "AKIDX", secretAccessKey: "very-secret", sessionToken: "tok")
        XCTAssertFalse("\(credentials)".contains("very-secret"))
        XCTAssertFalse("\(credentials)".contains("tok,"))
    }

    func testNoCredentialsAnywhereIsAClearConfigurationError() async {
        do {
            _ = try await chain([:], ["AWS_PROFILE": "missing"]).resolve()
            XCTFail("expected invalidConfiguration")
        } catch let error as ProviderError {
            guard case .invalidConfiguration(let detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("dstack aws configure"), detail)
        } catch {
            XCTFail("\(error)")
        }
    }

    func testIMDSv2GetsATokenThenTheRoleCredentials() async throws {
        let server = try LocalHTTPServer { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                return request.header("X-aws-ec2-metadata-token-ttl-seconds") == "21600" ? .init(body: "imds-token") : .init(status: 400)
            case (_, _) where request.header("X-aws-ec2-metadata-token") != "imds-token":
                return .init(status: 401)
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                return .init(body: "dstack-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/dstack-role"):
                return .init(body: #"{"Code": "Success", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "imds-secret", "Token": "imds-session", "Expiration": "2030-01-01T00:00:00Z"}"#)
            default:
                return .init(status: 404)
            }
        }
        defer { server.stop() }
        var chain = chain([:], ["AWS_PROFILE": "missing"])
        chain.imds = IMDSCredentials.fromEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url])
        let credentials = try await chain.resolve()
        XCTAssertEqual(credentials.accessKeyID, "ASIAIMDS")
        XCTAssertEqual(credentials.sessionToken, "imds-session")
        XCTAssertEqual(credentials.expiration, ISO8601DateFormatter().date(from: "2030-01-01T00:00:00Z"))
        XCTAssertNil(IMDSCredentials.fromEnvironment(["AWS_EC2_METADATA_DISABLED": "true"]))
    }

    func testRegionComesFromSettingsThenAWSRegionThenDefaultRegionThenProfile() throws {
        func region(_ settings: ProviderSettings, _ environment: [String: String]) throws -> String {
            var environment = environment
            environment["HOME"] = home.path
            return try AWSEndpoint.region(settings: settings, environment: environment, files: .load(environment: environment))
        }
        let all = ["AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-east-2"]
        XCTAssertEqual(try region(["region": "eu-central-1"], all), "eu-central-1")
        XCTAssertEqual(try region([:], all), "us-west-2")
        XCTAssertEqual(try region([:], ["AWS_DEFAULT_REGION": "us-east-2"]), "us-east-2")
        XCTAssertEqual(try region([:], [:]), "eu-west-1")
        XCTAssertEqual(try region([:], ["AWS_PROFILE": "dev"]), "ap-south-1")
        XCTAssertThrowsError(try region([:], ["AWS_PROFILE": "missing"]))
    }

    func testEndpointDefaultsToHTTPSAndEnvironmentOverridesWinInOrder() throws {
        func endpoint(_ settings: ProviderSettings, _ environment: [String: String]) throws -> AWSEndpoint {
            try AWSEndpoint.resolve(settings: settings.merging(["region": "eu-west-1"]) { a, _ in a }, environment: environment, files: AWSConfigFiles())
        }
        XCTAssertEqual(try endpoint([:], [:]).url, "https://ec2.eu-west-1.amazonaws.com/")
        XCTAssertEqual(try endpoint(["region": "cn-north-1"], [:]).url, "https://ec2.cn-north-1.amazonaws.com.cn/")
        let saved: ProviderSettings = ["endpoint_url": "http://127.0.0.1:5000"]
        XCTAssertEqual(try endpoint(saved, [:]).url, "http://127.0.0.1:5000/")
        XCTAssertEqual(try endpoint(saved, ["AWS_ENDPOINT_URL": "http://generic:1"]).url, "http://generic:1/")
        XCTAssertEqual(try endpoint(saved, ["AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_EC2": "https://ec2.example:2"]).source,
                       "AWS_ENDPOINT_URL_EC2")
        XCTAssertEqual(try endpoint(saved, ["AWS_ENDPOINT_URL": "http://generic:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"]).url,
                       "http://127.0.0.1:5000/")
        XCTAssertThrowsError(try endpoint(["endpoint_url": "ftp://x"], [:]))
        XCTAssertThrowsError(try endpoint(["endpoint_url": "not a url"], [:]))
    }

    func testPluginPromptsTheSeedLinesInOrderAndTheRestAreFlags() {
        XCTAssertEqual(AWSPlugin.plugin.vendor, "aws")
        XCTAssertEqual(AWSPlugin.plugin.displayName, "AWS")
        let prompted = AWSPlugin.plugin.fields.filter(\.isPrompted)
        XCTAssertEqual(prompted.map(\.label), ["AWS Access Key ID", "AWS Secret Access Key", "Region name", "Artifact S3 bucket"])
        XCTAssertEqual(prompted.map(\.key), ["access_key_id", "secret_access_key", "region", "artifact_s3_bucket"])
        XCTAssertEqual(prompted.map(\.isSecret), [true, true, false, false])
        let form = ConfigureForm(plugin: AWSPlugin.plugin)
        XCTAssertEqual(form.prompt(for: prompted[0], current: "AKIAIOSFODNN7EXAMPLE"), "AWS Access Key ID [****************MPLE]: ")
        XCTAssertEqual(form.prompt(for: prompted[3], current: nil), "Artifact S3 bucket [None]: ")
        // The keys may stay empty (the server's credential chain then applies); the region may not.
        XCTAssertEqual(prompted.map(\.isOptional), [true, true, false, true])
        XCTAssertEqual(form.prompt(for: prompted[0], current: nil), "AWS Access Key ID [None]: ")
        let flags = AWSPlugin.plugin.fields.filter { !$0.isPrompted }
        XCTAssertEqual(flags.map(\.flagName), ["endpoint-url", "s3-endpoint-url", "ami-id", "max-price", "runner-url", "ingress-rules"])
        XCTAssertTrue(flags.allSatisfy(\.isOptional))
    }

    func testBadSettingsAreRejectedWhenTheProviderIsMade() {
        let context = ProviderContext(installationID: "x", home: home, environment: ["HOME": home.path])
        for bad: ProviderSettings in [["max_price": "cheap"], ["ami_id": "ubuntu"], ["ingress_rules": "ssh"], ["ingress_rules": "tcp:99999:0.0.0.0/0"]] {
            XCTAssertThrowsError(try AWSPlugin.plugin.makeProvider(bad.merging(["region": "us-east-1"]) { a, _ in a }, context)) { error in
                guard case ProviderError.invalidConfiguration = error else { return XCTFail("\(error)") }
            }
        }
        XCTAssertNoThrow(try AWSPlugin.plugin.makeProvider(["region": "us-east-1", "ingress_rules": "tcp:22:203.0.113.0/24, udp:60000-61000:0.0.0.0/0"], context))
    }

    func testLongIdempotencyTokensAreHashedToEC2sLimit() {
        XCTAssertEqual(AWSProvider.clientToken("short"), "short")
        let long = String(repeating: "t", count: 100)
        XCTAssertEqual(AWSProvider.clientToken(long).count, 64)
        XCTAssertEqual(AWSProvider.clientToken(long), AWSProvider.clientToken(long))
    }

    func testUbuntuLTSVersionsAreRecognised() {
        XCTAssertEqual(AWSProvider.ltsVersion("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240701"), 2404)
        XCTAssertNil(AWSProvider.ltsVersion("ubuntu/images/hvm-ssd-gp3/ubuntu-oracular-24.10-amd64-server-20241009"))
        XCTAssertNil(AWSProvider.ltsVersion("ubuntu/images/hvm-ssd/ubuntu-disco-19.04-amd64-server-20190514"))
    }
}

final class PacingTests: XCTestCase {
    func testFullJitterBackoffIsCappedExponential() {
        let top = RetryPolicy(baseDelay: 0.5, maxDelay: 4, random: { 0.999999 })
        XCTAssertEqual((0..<6).map { (top.delay(beforeRetry: $0) * 1000).rounded() / 1000 }, [0.5, 1, 2, 4, 4, 4])
        let bottom = RetryPolicy(baseDelay: 0.5, maxDelay: 4, random: { 0 })
        XCTAssertEqual(bottom.delay(beforeRetry: 3), 0)
    }

    func testTokenBucketAllowsABurstThenPaces() async {
        let clock = ManualClock()
        let bucket = TokenBucket(capacity: 3, refillPerSecond: 2, now: { clock.now }, sleep: { clock.advance($0) })
        var waits: [TimeInterval] = []
        for _ in 0..<5 { waits.append(await bucket.acquire()) }
        XCTAssertEqual(waits, [0, 0, 0, 0.5, 0.5])
        clock.advance(10)
        let refilled = await bucket.available
        XCTAssertEqual(refilled, 3, "never more than the capacity")
    }
}

final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}
