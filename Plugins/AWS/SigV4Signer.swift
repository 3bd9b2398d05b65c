import DstackProvider
import DstackWire
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
        var bytes = [UInt8](repeating: 0, count: 16)
        func put(_ value: Int32, _ at: Int, _ width: Int) {
            var value = value
            for i in stride(from: at + width - 1, through: at, by: -1) {
                bytes[i] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(parts.tm_year + 1900, 0, 4)
        put(parts.tm_mon + 1, 4, 2)
        put(parts.tm_mday, 6, 2)
        bytes[8] = UInt8(ascii: "T")
        put(parts.tm_hour, 9, 2)
        put(parts.tm_min, 11, 2)
        put(parts.tm_sec, 13, 2)
        bytes[15] = UInt8(ascii: "Z")
        return (String(decoding: bytes, as: UTF8.self), String(decoding: bytes[..<8], as: UTF8.self))
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
        let (canonical, signed) = canonicalHeaderBytes(headers)
        return (String(decoding: canonical, as: UTF8.self), String(decoding: signed, as: UTF8.self))
    }

    public static func canonicalRequest(method: String, path: String, rawQuery: String,
                                        headers: [HTTPHeader], payloadHash: String) -> String {
        String(decoding: canonicalRequestBytes(method: method, path: path, rawQuery: rawQuery, headers: headers,
                                               payloadHash: payloadHash), as: UTF8.self)
    }

    // The same steps on UTF-8 bytes: signing is on every EC2 call, and Swift's
    // Character-level string handling would cost more than the hashing.
    static func canonicalHeaderBytes(_ headers: [HTTPHeader]) -> (canonical: [UInt8], signed: [UInt8]) {
        var entries: [(name: [UInt8], value: [UInt8])] = []
        entries.reserveCapacity(headers.count)
        for header in headers {
            var name = Array(header.name.utf8)
            for i in name.indices where name[i] >= 65 && name[i] <= 90 { name[i] += 32 }
            var value: [UInt8] = []
            value.reserveCapacity(header.value.utf8.count)
            var pendingSpace = false
            for byte in header.value.utf8 {
                if byte == 32 || byte == 9 {
                    pendingSpace = !value.isEmpty
                } else {
                    if pendingSpace { value.append(32); pendingSpace = false }
                    value.append(byte)
                }
            }
            if let index = entries.firstIndex(where: { $0.name == name }) {
                entries[index].value.append(UInt8(ascii: ","))
                entries[index].value += value
            } else {
                entries.append((name, value))
            }
        }
        entries.sort { $0.name.lexicographicallyPrecedes($1.name) }
        var canonical: [UInt8] = []
        var signed: [UInt8] = []
        canonical.reserveCapacity(256)
        for (index, entry) in entries.enumerated() {
            canonical += entry.name
            canonical.append(UInt8(ascii: ":"))
            canonical += entry.value
            canonical.append(10)
            if index > 0 { signed.append(UInt8(ascii: ";")) }
            signed += entry.name
        }
        return (canonical, signed)
    }

    static func canonicalRequestBytes(method: String, path: String, rawQuery: String,
                                      headers: [HTTPHeader], payloadHash: String) -> [UInt8] {
        let (canonical, signed) = canonicalHeaderBytes(headers)
        return canonicalRequestBytes(method: method, path: path, rawQuery: rawQuery, canonical: canonical, signed: signed,
                                     payloadHash: payloadHash)
    }

    static func canonicalRequestBytes(method: String, path: String, rawQuery: String, canonical: [UInt8], signed: [UInt8],
                                      payloadHash: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(canonical.count + signed.count + path.utf8.count + rawQuery.utf8.count + 96)
        out += method.utf8
        out.append(10)
        if path.isEmpty { out.append(UInt8(ascii: "/")) } else { out += path.utf8 }
        out.append(10)
        if !rawQuery.isEmpty { out += canonicalQuery(rawQuery).utf8 }
        out.append(10)
        out += canonical
        out.append(10)
        out += signed
        out.append(10)
        out += payloadHash.utf8
        return out
    }

    public static func credentialScope(day: String, region: String, service: String) -> String {
        "\(day)/\(region)/\(service)/aws4_request"
    }

    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        stringToSign(amzDate: amzDate, scope: scope, canonicalRequestHash: Crypto.hex(Crypto.sha256(canonicalRequest)))
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequestHash: String) -> String {
        algorithm + "\n" + amzDate + "\n" + scope + "\n" + canonicalRequestHash
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
        signed.headers.removeAll { Self.isSigningHeader($0.name) }
        signed.headers.append(HTTPHeader("Host", parts.host))
        signed.headers.append(HTTPHeader("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken, !token.isEmpty {
            signed.headers.append(HTTPHeader("X-Amz-Security-Token", token))
        }
        let payloadHash = Crypto.hex(Crypto.sha256(request.body))
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaderBytes(signed.headers)
        let canonical = Self.canonicalRequestBytes(method: request.method, path: parts.path, rawQuery: parts.query,
                                                   canonical: canonicalHeaders, signed: signedHeaders, payloadHash: payloadHash)
        let scope = Self.credentialScope(day: day, region: region, service: service)
        var toSign: [UInt8] = []
        toSign.reserveCapacity(160)
        toSign += Self.algorithm.utf8
        toSign.append(10)
        toSign += amzDate.utf8
        toSign.append(10)
        toSign += scope.utf8
        toSign.append(10)
        toSign += Crypto.hexBytes(Crypto.sha256(canonical))
        let key = keyCache.key(credentials: credentials, day: day, region: region, service: service)
        let signature = Crypto.hex(key.mac(toSign))
        let signedNames = String(decoding: signedHeaders, as: UTF8.self)
        signed.headers.append(HTTPHeader(
            "Authorization",
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return signed
    }

    /// The headers `sign` sets itself, compared without case and without allocating.
    static func isSigningHeader(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            for candidate in ["host", "x-amz-date", "authorization", "x-amz-security-token"] where candidate.utf8.count == bytes.count {
                if zip(candidate.utf8, bytes).allSatisfy({ $0 == ($1 >= 65 && $1 <= 90 ? $1 + 32 : $1) }) { return true }
            }
            return false
        }
    }

    /// host[:port] (port only when not the scheme's default), path, raw query.
    static func splitURL(_ url: String) -> (host: String, path: String, query: String) {
        let bytes = Array(url.utf8)
        var index = 0
        var defaultPort: [UInt8] = Array(":443".utf8)
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon + 2 < bytes.count,
           bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/") {
            if bytes[..<colon].map({ $0 | 0x20 }) == Array("http".utf8) { defaultPort = Array(":80".utf8) }
            index = colon + 3
        }
        let authorityEnd = bytes[index...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.count
        var host = Array(bytes[index..<authorityEnd])
        if host.count > defaultPort.count, Array(host.suffix(defaultPort.count)) == defaultPort { host.removeLast(defaultPort.count) }
        for i in host.indices where host[i] >= 65 && host[i] <= 90 { host[i] += 32 }
        let queryStart = bytes[authorityEnd...].firstIndex(of: UInt8(ascii: "?"))
        let path = bytes[authorityEnd..<(queryStart ?? bytes.count)]
        let query = queryStart.map { bytes[($0 + 1)...] } ?? []
        return (String(decoding: host, as: UTF8.self), path.isEmpty ? "/" : String(decoding: path, as: UTF8.self),
                String(decoding: query, as: UTF8.self))
    }
}

/// Signing keys by access key, day, region and service. A key is four HMACs; caching
/// it makes a signature two SHA-256s and one HMAC.
final class SigningKeyCache: @unchecked Sendable {
    private struct Entry {
        var secret: String
        var key: HMACKey
    }
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    private var last: (id: String, day: String, region: String, service: String, secret: String, key: HMACKey)?

    func key(credentials: AWSCredentials, day: String, region: String, service: String) -> HMACKey {
        lock.lock()
        if let last, last.day == day, last.id == credentials.accessKeyID, last.region == region, last.service == service,
           last.secret == credentials.secretAccessKey {
            lock.unlock()
            return last.key
        }
        lock.unlock()
        let found = slowKey(credentials: credentials, day: day, region: region, service: service)
        lock.lock()
        last = (credentials.accessKeyID, day, region, service, credentials.secretAccessKey, found)
        lock.unlock()
        return found
    }

    private func slowKey(credentials: AWSCredentials, day: String, region: String, service: String) -> HMACKey {
        let id = "\(credentials.accessKeyID)/\(day)/\(region)/\(service)"
        lock.lock()
        if let entry = entries[id], entry.secret == credentials.secretAccessKey {
            lock.unlock()
            return entry.key
        }
        lock.unlock()
        let key = HMACKey(SigV4Signer.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service))
        lock.lock()
        if entries.count > 64 { entries.removeAll() } // old days; rarely more than one live entry
        entries[id] = Entry(secret: credentials.secretAccessKey, key: key)
        lock.unlock()
        return key
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }
}
