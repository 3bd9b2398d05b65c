import DstackWire
import Foundation

/// The EC2 instance ID from the instance metadata service, IMDSv2 only: a session
/// token from `PUT /latest/api/token`, then the ID with that token. Never IMDSv1 (a
/// token-less GET), which instances launched with `HttpTokens=required` refuse and
/// which SSRF attacks abuse.
public struct InstanceMetadata: Sendable {
    public static let tokenTTLSeconds = 21600

    public var baseURL: String
    let http: CurlHTTPClient

    public init(baseURL: String = "http://169.254.169.254") {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        // The service is link-local and answers in milliseconds, or not at all.
        http = CurlHTTPClient(options: .init(connectTimeout: 2, totalTimeout: 5, proxy: ProxySettings()))
    }

    /// An IMDSv2 session token.
    func sessionToken() throws -> String {
        let tokenReply = try http.sendBlocking(HTTPRequest(
            method: "PUT", url: baseURL + "/latest/api/token",
            headers: [HTTPHeader("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenTTLSeconds))]))
        guard tokenReply.status == 200, !tokenReply.body.isEmpty else {
            throw MetadataError("the metadata service answered \(tokenReply.status) to the IMDSv2 token request")
        }
        return tokenReply.bodyText
    }

    public func instanceID() throws -> String {
        let token = try sessionToken()
        let idReply = try http.sendBlocking(HTTPRequest(
            method: "GET", url: baseURL + "/latest/meta-data/instance-id",
            headers: [HTTPHeader("X-aws-ec2-metadata-token", token)]))
        let id = idReply.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard idReply.status == 200, !id.isEmpty else {
            throw MetadataError("the metadata service answered \(idReply.status) to the instance-id request")
        }
        return id
    }
}

public struct MetadataError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
