import DstackProvider
import DstackWire
import Foundation

/// The EC2 Query API, version 2016-11-15: signed, form-encoded POSTs answered with XML.
/// Paces calls with a token bucket, retries throttling, 5xx and transport failures with
/// capped exponential backoff and full jitter, and never retries other client errors.
public final class EC2Client: Sendable {
    public static let apiVersion = "2016-11-15"

    public let endpoint: AWSEndpoint
    let signer: SigV4Signer
    let credentials: CredentialsCache
    let transport: any HTTPTransport
    let retry: RetryPolicy
    let bucket: TokenBucket
    let now: @Sendable () -> Date
    /// Told of each request and throttled retry (the server's metrics).
    let observer: (any CloudCallObserver)?

    init(endpoint: AWSEndpoint, credentials: CredentialsCache, transport: any HTTPTransport,
         retry: RetryPolicy, bucket: TokenBucket, now: @escaping @Sendable () -> Date,
         observer: (any CloudCallObserver)? = nil) {
        self.endpoint = endpoint
        self.signer = SigV4Signer(region: endpoint.region, service: "ec2")
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        self.bucket = bucket
        self.now = now
        self.observer = observer
    }

    /// `Action=…&Version=2016-11-15&…` as application/x-www-form-urlencoded: unreserved
    /// characters kept, space as `+`, everything else `%XX`. This is byte for byte what
    /// Python's `urlencode` (botocore) produces, so a server that re-encodes the parsed
    /// form to check the signature (moto does) computes the same payload hash.
    static func formBody(action: String, _ parameters: [(String, String)]) -> String {
        ([("Action", action), ("Version", apiVersion)] + parameters)
            .map { "\(formEncode($0.0))=\(formEncode($0.1))" }
            .joined(separator: "&")
    }

    static func formEncode(_ text: String) -> String {
        SigV4Signer.uriEncode(text).replacingOccurrences(of: "%20", with: "+")
    }

    /// One action; the parsed reply, or a `ProviderError`. `instanceType` only makes a
    /// capacity error name its type.
    public func call(_ action: String, _ parameters: [(String, String)] = [],
                     instanceType: String? = nil) async throws -> XMLElementNode {
        let body = Self.formBody(action: action, parameters)
        var attempt = 0
        while true {
            attempt += 1
            let isLast = attempt >= retry.maxAttempts
            await bucket.acquire()
            let credentials = try await self.credentials.current()
            let request = signer.sign(
                HTTPRequest(method: "POST", url: endpoint.url,
                            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                            body: body),
                credentials: credentials, at: now())

            let response: HTTPResponse
            do {
                response = try await transport.send(request)
            } catch let error as HTTPError {
                observer?.cloudAPICall(action: action, errorCode: "transport")
                if isLast { throw ProviderError.transport(detail: "\(action): \(error) (after \(attempt) attempts)") }
                await retry.sleep(retry.delay(beforeRetry: attempt - 1))
                continue
            } catch {
                throw ProviderError.transport(detail: "\(action): \(error)")
            }

            let reply = (200..<300).contains(response.status) ? nil : EC2ErrorReply.parse(status: response.status, body: response.body)
            observer?.cloudAPICall(action: action, errorCode: (200..<300).contains(response.status) ? nil : reply?.code ?? "HTTP \(response.status)")
            if (200..<300).contains(response.status) {
                do {
                    return try EC2XML.parse(response.body)
                } catch {
                    throw ProviderError.transport(detail: "\(action): EC2 sent a reply that is not XML (\(error))")
                }
            }

            guard let reply else {
                if response.status >= 500 || response.status == 429 {
                    if response.status == 429, !isLast { observer?.throttlingRetry(action: action) }
                    if isLast {
                        throw ProviderError.transport(detail: "\(action): HTTP \(response.status) from EC2 (after \(attempt) attempts)")
                    }
                    await retry.sleep(retry.delay(beforeRetry: attempt - 1))
                    continue
                }
                throw ProviderError.transport(detail: "\(action): HTTP \(response.status) from EC2 with an unreadable body")
            }
            if reply.code == "ExpiredToken" || reply.code == "RequestExpired", !isLast, credentials.expiration != nil {
                await self.credentials.invalidate() // temporary credentials rotated under us
                continue
            }
            if reply.isRetryable && !isLast {
                if reply.isThrottling { observer?.throttlingRetry(action: action) }
                await retry.sleep(retry.delay(beforeRetry: attempt - 1))
                continue
            }
            if reply.isRetryable && reply.isThrottling {
                throw ProviderError.throttled(detail: "\(action): \(reply.code): \(reply.message) (after \(attempt) attempts)")
            }
            throw EC2CallError(action: action, reply: reply, instanceType: instanceType)
        }
    }

    /// Every page of a paginated action: follows `nextToken` until EC2 stops sending one.
    /// `pageSize` goes out as `MaxResults` (EC2 refuses it together with explicit IDs).
    public func paginate(_ action: String, _ parameters: [(String, String)] = [], pageSize: Int? = nil,
                         page: (XMLElementNode) throws -> Void) async throws {
        var token: String?
        var seen: Set<String> = []
        repeat {
            var pageParameters = parameters
            if let pageSize { pageParameters.append(("MaxResults", String(pageSize))) }
            if let token { pageParameters.append(("NextToken", token)) }
            let reply = try await call(action, pageParameters)
            try page(reply)
            token = reply.string("nextToken").flatMap { $0.isEmpty ? nil : $0 }
            if let current = token {
                guard seen.insert(current).inserted else { break } // a server repeating itself must not loop us forever
            }
        } while token != nil
    }
}

/// A non-retryable EC2 error, kept with its action so callers can look at the code
/// (NotFound handling) before it becomes a `ProviderError`.
struct EC2CallError: Error, Sendable {
    var action: String
    var reply: EC2ErrorReply
    var instanceType: String?

    var providerError: ProviderError { reply.providerError(action: action, instanceType: instanceType) }
}

/// EC2's list parameters: `Name.1=a&Name.2=b`, and `Filter.N.Name` / `Filter.N.Value.M`.
enum EC2Params {
    static func list(_ name: String, _ values: [String]) -> [(String, String)] {
        values.enumerated().map { ("\(name).\($0.offset + 1)", $0.element) }
    }

    static func filters(_ filters: [(String, [String])]) -> [(String, String)] {
        var out: [(String, String)] = []
        for (index, filter) in filters.enumerated() {
            out.append(("Filter.\(index + 1).Name", filter.0))
            for (valueIndex, value) in filter.1.enumerated() {
                out.append(("Filter.\(index + 1).Value.\(valueIndex + 1)", value))
            }
        }
        return out
    }

    static func tags(_ tags: [(String, String)], resourceType: String? = nil, prefix: String = "Tag") -> [(String, String)] {
        var out: [(String, String)] = []
        for (index, tag) in tags.enumerated() {
            out.append(("\(prefix).\(index + 1).Key", tag.0))
            out.append(("\(prefix).\(index + 1).Value", tag.1))
        }
        return out
    }
}
