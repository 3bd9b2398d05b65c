import DstackCore
import Foundation

/// AWS Signature Version 4, as small pure steps (canonical request → string to sign →
/// signing key → signature), with the time and the credentials injected. The signing
/// key only changes with the day, region and service, so it is cached.
///
/// Verified against AWS's published vectors (see SigV4SignerTests): the worked IAM
/// `ListUsers` example from the SigV4 documentation, and the aws-sig-v4-test-suite cases
/// `get-vanilla`, `get-vanilla-query-order-key-case` and `post-x-www-form-urlencoded`.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String
    let keyCache: SigningKeyCache

    public init(region: String, service: String) {
        self.region = region
        self.service = service
        self.keyCache = SigningKeyCache()
    }

    public static let algorithm = "AWS4-HMAC-SHA256"

    // MARK: The pure steps

    /// `20150830T123600Z` and `20150830` for a moment, in UTC.
    public static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2)
        return (day + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z", day)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4
    /// and the EC2 Query API require (`/` kept only in paths).
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The query as it goes on the wire (already encoded), sorted by name then value.
    public static func canonicalQuery(_ rawQuery: String) -> String {
        guard !rawQuery.isEmpty else { return "" }
        let pairs = rawQuery.split(separator: "&", omittingEmptySubsequences: true).map { pair -> (String, String) in
            if let eq = pair.firstIndex(of: "=") {
                return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
            }
            return (String(pair), "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Lower-case names, trimmed values with inner runs of spaces collapsed, repeated
    /// names joined with commas, sorted by name.
    public static func canonicalHeaders(_ headers: [HTTPHeader]) -> (canonical: String, signed: String) {
        var merged: [String: String] = [:]
        for header in headers {
            let name = header.name.lowercased()
            let value = header.value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[name] = merged[name].map { $0 + "," + value } ?? value
        }
        let names = merged.keys.sorted()
        let canonical = names.map { "\($0):\(merged[$0]!)\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    public static func canonicalRequest(method: String, path: String, rawQuery: String,
                                        headers: [HTTPHeader], payloadHash: String) -> String {
        let (canonical, signed) = canonicalHeaders(headers)
        let uri = path.isEmpty ? "/" : path
        return [method, uri, canonicalQuery(rawQuery), canonical, signed, payloadHash].joined(separator: "\n")
    }

    public static func credentialScope(day: String, region: String, service: String) -> String {
        "\(day)/\(region)/\(service)/aws4_request"
    }

    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, Crypto.hex(Crypto.sha256(canonicalRequest))].joined(separator: "\n")
    }

    public static func signingKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        let kDate = Crypto.hmacSHA256(key: Array(("AWS4" + secret).utf8), day)
        let kRegion = Crypto.hmacSHA256(key: kDate, region)
        let kService = Crypto.hmacSHA256(key: kRegion, service)
        return Crypto.hmacSHA256(key: kService, "aws4_request")
    }

    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        Crypto.hex(Crypto.hmacSHA256(key: signingKey, stringToSign))
    }

    // MARK: Signing a request

    /// The request with `Host`, `X-Amz-Date`, `X-Amz-Security-Token` (for temporary
    /// credentials) and `Authorization` added. Every header present is signed.
    public func sign(_ request: HTTPRequest, credentials: AWSCredentials, at date: Date) -> HTTPRequest {
        let (amzDate, day) = Self.timestamps(date)
        let parts = Self.splitURL(request.url)
        var signed = request
        signed.headers.removeAll { ["host", "x-amz-date", "authorization", "x-amz-security-token"].contains($0.name.lowercased()) }
        signed.headers.append(HTTPHeader("Host", parts.host))
        signed.headers.append(HTTPHeader("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken, !token.isEmpty {
            signed.headers.append(HTTPHeader("X-Amz-Security-Token", token))
        }
        let payloadHash = Crypto.hex(Crypto.sha256(request.body))
        let canonical = Self.canonicalRequest(method: request.method, path: parts.path, rawQuery: parts.query,
                                              headers: signed.headers, payloadHash: payloadHash)
        let scope = Self.credentialScope(day: day, region: region, service: service)
        let toSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let key = keyCache.key(credentials: credentials, day: day, region: region, service: service)
        let signature = Self.signature(signingKey: key, stringToSign: toSign)
        let signedNames = Self.canonicalHeaders(signed.headers).signed
        signed.headers.append(HTTPHeader(
            "Authorization",
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return signed
    }

    /// host[:port] (port only when not the scheme's default), path, raw query.
    static func splitURL(_ url: String) -> (host: String, path: String, query: String) {
        var rest = Substring(url)
        var defaultPort = ":443"
        if let range = rest.range(of: "://") {
            if rest[..<range.lowerBound].lowercased() == "http" { defaultPort = ":80" }
            rest = rest[range.upperBound...]
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var host = String(rest[..<authorityEnd])
        if host.hasSuffix(defaultPort) { host.removeLast(defaultPort.count) }
        rest = rest[authorityEnd...]
        var path = rest
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            path = rest[..<q]
            query = rest[rest.index(after: q)...]
        }
        return (host.lowercased(), path.isEmpty ? "/" : String(path), String(query))
    }
}

/// Signing keys by access key, day, region and service. A key is four HMACs; caching
/// it makes a signature two SHA-256s and one HMAC.
final class SigningKeyCache: @unchecked Sendable {
    private struct Entry {
        var secret: String
        var key: [UInt8]
    }
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    func key(credentials: AWSCredentials, day: String, region: String, service: String) -> [UInt8] {
        let id = "\(credentials.accessKeyID)/\(day)/\(region)/\(service)"
        lock.lock()
        if let entry = entries[id], entry.secret == credentials.secretAccessKey {
            lock.unlock()
            return entry.key
        }
        lock.unlock()
        let key = SigV4Signer.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        lock.lock()
        if entries.count > 64 { entries.removeAll() } // old days; rarely more than one live entry
        entries[id] = Entry(secret: credentials.secretAccessKey, key: key)
        lock.unlock()
        return key
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }
}
