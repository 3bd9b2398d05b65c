import DstackProvider
import DstackWire
import Foundation

/// Finds credentials the way AWS users expect, first match wins:
/// 1. the `dstack aws configure` settings;
/// 2. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
/// 3. `AWS_PROFILE` (or `default`) in `~/.aws/credentials` and `~/.aws/config`;
/// 4. the EC2 instance metadata service, IMDSv2.
struct CredentialsChain: Sendable {
    var settings: ProviderSettings
    var environment: [String: String]
    var files: AWSConfigFiles
    var imds: IMDSCredentials?

    func resolve() async throws -> AWSCredentials {
        if let fixed = staticCredentials() { return fixed }
        if let imds {
            return try await imds.fetch()
        }
        let profile = AWSConfigFiles.profileName(environment: environment)
        throw ProviderError.invalidConfiguration(
            detail: "no AWS credentials: none saved, and none in the dstack server's environment (AWS_ACCESS_KEY_ID), "
                + "its profile '\(profile)' or an instance role; give keys to `dstack aws configure`, or start the server with them")
    }

    /// The first three links: everything that needs no network.
    func staticCredentials() -> AWSCredentials? {
        func nonEmpty(_ value: String?) -> String? {
            guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let key = nonEmpty(settings["access_key_id"]), let secret = nonEmpty(settings["secret_access_key"]) {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty(settings["session_token"]),
                                  source: "settings")
        }
        if let key = nonEmpty(environment["AWS_ACCESS_KEY_ID"]), let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]),
                                  source: "environment")
        }
        let profile = AWSConfigFiles.profileName(environment: environment)
        if let key = files.value("aws_access_key_id", profile: profile),
           let secret = files.value("aws_secret_access_key", profile: profile) {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret,
                                  sessionToken: files.value("aws_session_token", profile: profile), source: "profile \(profile)")
        }
        return nil
    }
}

/// Temporary credentials of the instance's IAM role from IMDSv2: a session token by
/// `PUT /latest/api/token`, then the role name, then the role's credentials.
struct IMDSCredentials: Sendable {
    var endpoint: String
    var transport: any HTTPTransport

    static func fromEnvironment(_ environment: [String: String], transport: (any HTTPTransport)? = nil) -> IMDSCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        // Off EC2 the address does not answer: fail fast rather than hang a CLI command.
        let client = transport ?? CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 2, proxy: ProxySettings()))
        return IMDSCredentials(endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint, transport: client)
    }

    func fetch() async throws -> AWSCredentials {
        do {
            let token = try await send(HTTPRequest(method: "PUT", url: "\(endpoint)/latest/api/token",
                                                   headers: [HTTPHeader("X-aws-ec2-metadata-token-ttl-seconds", "21600")]))
            let auth = [HTTPHeader("X-aws-ec2-metadata-token", token)]
            let base = "\(endpoint)/latest/meta-data/iam/security-credentials/"
            let roles = try await send(HTTPRequest(method: "GET", url: base, headers: auth))
            guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
                throw ProviderError.invalidConfiguration(detail: "this EC2 instance has no IAM role attached")
            }
            let document = try JSONValue.parse(try await send(HTTPRequest(method: "GET", url: base + role, headers: auth)))
            guard let key = document["AccessKeyId"]?.stringValue, let secret = document["SecretAccessKey"]?.stringValue else {
                throw ProviderError.invalidConfiguration(detail: "the instance metadata service returned no credentials for role \(role)")
            }
            let expiration = document["Expiration"]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: document["Token"]?.stringValue,
                                  expiration: expiration, source: "imds")
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError.invalidConfiguration(
                detail: "no AWS credentials found (settings, environment, profile) and the EC2 instance metadata service did not answer")
        }
    }

    private func send(_ request: HTTPRequest) async throws -> String {
        let response = try await transport.send(request)
        guard response.status == 200 else {
            throw ProviderError.invalidConfiguration(detail: "the instance metadata service answered HTTP \(response.status)")
        }
        return response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Resolves credentials once and again only when temporary ones near their expiry.
actor CredentialsCache {
    let chain: CredentialsChain
    /// The last credentials resolved, for callers that cannot await: presigning a URL is
    /// synchronous (`ArtifactBucket`), and needs no network once the key is known.
    nonisolated let latest = LatestCredentials()
    private let now: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var pending: Task<AWSCredentials, Error>?

    init(chain: CredentialsChain, now: @escaping @Sendable () -> Date) {
        self.chain = chain
        self.now = now
    }

    func current() async throws -> AWSCredentials {
        if let cached, !cached.expires(within: 300, of: now()) {
            latest.set(cached)
            return cached
        }
        if let pending { return try await pending.value }
        let (chain, latest) = (self.chain, self.latest)
        // Recorded inside the task: a caller that joined `pending` must find them in `latest`.
        let task = Task {
            let fresh = try await chain.resolve()
            latest.set(fresh)
            return fresh
        }
        pending = task
        defer { pending = nil }
        let fresh = try await task.value
        cached = fresh
        return fresh
    }

    /// Forgets the credentials (after EC2 says they expired).
    func invalidate() { cached = nil }
}

/// The credentials `CredentialsCache` resolved last.
final class LatestCredentials: @unchecked Sendable { // `lock` guards `value`
    private let lock = NSLock()
    private var value: AWSCredentials?

    func set(_ credentials: AWSCredentials) { lock.withLock { value = credentials } }
    func get() -> AWSCredentials? { lock.withLock { value } }
}

extension CredentialsCache {
    /// Credentials without awaiting: the last ones resolved while still valid for
    /// `margin` seconds, else those of the chain's first three links (no network). An
    /// instance role's are fetched in the background and this throws until they are in.
    nonisolated func currentWithoutWaiting(now: Date, margin: TimeInterval) throws -> AWSCredentials {
        if let known = latest.get(), !known.expires(within: margin, of: now) { return known }
        if let fixed = chain.staticCredentials() { return fixed }
        Task { _ = try? await self.current() }
        throw ProviderError.invalidCredentials(
            detail: "the instance role's credentials are still being fetched from the metadata service; try again in a moment")
    }
}
