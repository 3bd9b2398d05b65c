import DstackProvider
import DstackWire
import Foundation

/// Query-string SigV4 ("presigned URLs"), as small pure steps next to the header
/// signer: the `X-Amz-*` parameters, the canonical request over them (only `host`
/// signed, the payload `UNSIGNED-PAYLOAD` so the holder may send any body), the string
/// to sign, and the URL with `X-Amz-Signature` appended. Whoever holds the URL may do
/// exactly that one request until it expires, without a key of their own: this is how
/// the runner uploads artifacts while the server keeps the credentials.
///
/// Verified against the GET example of AWS's "Authenticating Requests: Using Query
/// Parameters (AWS Signature Version 4)" (see SigV4PresignerTests).
extension SigV4Signer {
    /// S3 refuses presigned URLs that live longer than seven days.
    public static let maxPresignSeconds = 604_800
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The `X-Amz-*` parameters a presigned URL carries before its signature, each as
    /// `(name, value)` unencoded, in the order AWS's example lists them.
    public static func presignParameters(accessKeyID: String, scope: String, amzDate: String, expiresIn seconds: Int,
                                         signedHeaders: String, sessionToken: String?) -> [(String, String)] {
        var parameters = [
            ("X-Amz-Algorithm", algorithm),
            ("X-Amz-Credential", "\(accessKeyID)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(seconds)),
        ]
        // Temporary credentials (an instance role) sign with their token in the query.
        if let sessionToken, !sessionToken.isEmpty { parameters.append(("X-Amz-Security-Token", sessionToken)) }
        parameters.append(("X-Amz-SignedHeaders", signedHeaders))
        return parameters
    }

    /// `name=value&…`, both URI-encoded (a `/` in a value becomes `%2F`), in the given order.
    public static func encodedQuery(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(uriEncode($0.0))=\(uriEncode($0.1))" }.joined(separator: "&")
    }

    /// The canonical request of a presigned URL: only `host` is signed, and the payload
    /// is not (`UNSIGNED-PAYLOAD`). `path` and `rawQuery` are as they go on the wire.
    public static func presignCanonicalRequest(method: String, path: String, rawQuery: String, host: String) -> String {
        canonicalRequest(method: method, path: path, rawQuery: rawQuery, headers: [HTTPHeader("host", host)],
                         payloadHash: unsignedPayload)
    }

    /// The presigned form of `method url`: `url`'s own query kept, the `X-Amz-*`
    /// parameters added, then `X-Amz-Signature`. `url` must already be encoded (S3 keys
    /// with each path segment URI-encoded).
    public func presign(method: String, url: String, credentials: AWSCredentials, at date: Date,
                        expiresIn seconds: Int) throws -> String {
        guard (1...Self.maxPresignSeconds).contains(seconds) else {
            throw ProviderError.invalidConfiguration(
                detail: "a presigned URL lives 1 to \(Self.maxPresignSeconds) seconds, not \(seconds)")
        }
        let (amzDate, day) = Self.timestamps(date)
        let parts = Self.splitURL(url)
        let scope = Self.credentialScope(day: day, region: region, service: service)
        let added = Self.encodedQuery(Self.presignParameters(
            accessKeyID: credentials.accessKeyID, scope: scope, amzDate: amzDate, expiresIn: seconds,
            signedHeaders: "host", sessionToken: credentials.sessionToken))
        let query = parts.query.isEmpty ? added : parts.query + "&" + added
        let canonical = Self.presignCanonicalRequest(method: method, path: parts.path, rawQuery: query, host: parts.host)
        let toSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let key = keyCache.key(credentials: credentials, day: day, region: region, service: service)
        let signature = Crypto.hex(key.mac(toSign))
        let base = url.firstIndex(of: "?").map { String(url[..<$0]) } ?? url
        return "\(base)?\(query)&X-Amz-Signature=\(signature)"
    }
}
