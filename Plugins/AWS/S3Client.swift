import DstackProvider
import DstackWire
import Foundation

/// The few S3 calls dstack makes itself (HeadBucket and the multipart upload's create,
/// complete and abort), signed with SigV4 headers, plus presigned URLs for the calls
/// the runner makes with no key (PUT, GET, UploadPart). Retries transport failures,
/// 5xx and SlowDown with the same backoff as EC2.
final class S3Client: Sendable {
    let endpoint: S3Endpoint
    let signer: SigV4Signer
    let credentials: CredentialsCache
    let transport: any HTTPTransport
    let retry: RetryPolicy
    let now: @Sendable () -> Date

    init(endpoint: S3Endpoint, credentials: CredentialsCache, transport: any HTTPTransport, retry: RetryPolicy,
         now: @escaping @Sendable () -> Date) {
        self.endpoint = endpoint
        self.signer = SigV4Signer(region: endpoint.region, service: "s3")
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        self.now = now
    }

    /// What HeadBucket found out about a bucket.
    enum BucketAnswer: Equatable {
        case reachable
        case notFound
        case denied
        case elsewhere(region: String)
    }

    /// `HEAD /BUCKET`. S3 answers a bucket of another region with a redirect (or a 400
    /// when the request was signed for the wrong region), and says where it is in
    /// `x-amz-bucket-region`, which it also sends with a 200.
    func headBucket(_ bucket: String) async throws -> BucketAnswer {
        let response = try await send("HeadBucket", method: "HEAD", url: endpoint.url(bucket: bucket))
        let region = response.header("x-amz-bucket-region")?.trimmingCharacters(in: .whitespaces)
        if let region, !region.isEmpty, region != endpoint.region { return .elsewhere(region: region) }
        switch response.status {
        case 200..<300: return .reachable
        case 404: return .notFound
        case 403: return .denied
        default: throw failure("HeadBucket", iamAction: "s3:ListBucket", response)
        }
    }

    func createMultipartUpload(bucket: String, key: String) async throws -> String {
        let response = try await send("CreateMultipartUpload", method: "POST", url: endpoint.url(bucket: bucket, key: key, query: "uploads"))
        let reply = try success("CreateMultipartUpload", iamAction: "s3:PutObject", response)
        guard let uploadID = reply.string("UploadId"), !uploadID.isEmpty else {
            throw ProviderError.transport(detail: "CreateMultipartUpload: S3 sent no UploadId")
        }
        return uploadID
    }

    func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [ArtifactBucketPart]) async throws {
        guard !parts.isEmpty else {
            throw ProviderError.invalidConfiguration(detail: "a multipart upload needs at least one part")
        }
        let body = Self.completeBody(parts)
        let response = try await send("CompleteMultipartUpload", method: "POST",
                                      url: endpoint.url(bucket: bucket, key: key, query: "uploadId=" + SigV4Signer.uriEncode(uploadID)),
                                      headers: [HTTPHeader("Content-Type", "application/xml")], body: Array(body.utf8))
        _ = try success("CompleteMultipartUpload", iamAction: "s3:PutObject", response)
    }

    /// An upload already gone (completed or aborted before) is not an error.
    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        let response = try await send("AbortMultipartUpload", method: "DELETE",
                                      url: endpoint.url(bucket: bucket, key: key, query: "uploadId=" + SigV4Signer.uriEncode(uploadID)))
        if response.status == 404 { return }
        _ = try success("AbortMultipartUpload", iamAction: "s3:AbortMultipartUpload", response)
    }

    /// A URL for one request by whoever holds it, signed with the credentials known now.
    func presign(method: String, bucket: String, key: String, query: String = "", expiresIn seconds: Int) throws -> URL {
        let credentials = try credentials.currentWithoutWaiting(now: now(), margin: 60)
        let signed = try signer.presign(method: method, url: endpoint.url(bucket: bucket, key: key, query: query),
                                        credentials: credentials, at: now(), expiresIn: seconds)
        guard let url = URL(string: signed) else {
            throw ProviderError.invalidConfiguration(detail: "the key '\(key)' does not make a valid URL")
        }
        return url
    }

    /// `<CompleteMultipartUpload>` with the parts in part-number order, ETags as S3 sent them.
    static func completeBody(_ parts: [ArtifactBucketPart]) -> String {
        var xml = #"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xml += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(xmlEscape(part.etag))</ETag></Part>"
        }
        return xml + "</CompleteMultipartUpload>"
    }

    static func xmlEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    // MARK: Sending

    /// One signed request; the last answer after retrying what S3 asks clients to retry.
    private func send(_ action: String, method: String, url: String, headers: [HTTPHeader] = [],
                      body: [UInt8] = []) async throws -> HTTPResponse {
        let payloadHash = Crypto.hex(Crypto.sha256(body))
        var attempt = 0
        while true {
            attempt += 1
            let isLast = attempt >= retry.maxAttempts
            let credentials = try await self.credentials.current()
            let request = signer.sign(
                HTTPRequest(method: method, url: url, headers: headers + [HTTPHeader("x-amz-content-sha256", payloadHash)], body: body),
                credentials: credentials, at: now())
            let response: HTTPResponse
            do {
                response = try await transport.send(request)
            } catch let error as HTTPError {
                if isLast { throw ProviderError.transport(detail: "\(action): \(error) (after \(attempt) attempts)") }
                await retry.sleep(retry.delay(beforeRetry: attempt - 1))
                continue
            } catch {
                throw ProviderError.transport(detail: "\(action): \(error)")
            }
            let code = EC2ErrorReply.parse(status: response.status, body: response.body)?.code
            if ["ExpiredToken", "TokenRefreshRequired"].contains(code), !isLast, credentials.expiration != nil {
                await self.credentials.invalidate() // an instance role's key rotated under us
                continue
            }
            if (response.status >= 500 || response.status == 429 || code == "SlowDown") && !isLast {
                await retry.sleep(retry.delay(beforeRetry: attempt - 1))
                continue
            }
            return response
        }
    }

    /// The reply's XML when it is a success. S3 may send an `<Error>` with a 200 to a
    /// CompleteMultipartUpload that failed after it started answering.
    private func success(_ action: String, iamAction: String, _ response: HTTPResponse) throws -> XMLElementNode {
        guard (200..<300).contains(response.status) else { throw failure(action, iamAction: iamAction, response) }
        guard !response.body.isEmpty else { return XMLElementNode(name: "", text: "", children: []) }
        guard let reply = try? EC2XML.parse(response.body) else {
            throw ProviderError.transport(detail: "\(action): S3 sent a reply that is not XML")
        }
        if reply.name == "Error" { throw failure(action, iamAction: iamAction, response) }
        return reply
    }

    private func failure(_ action: String, iamAction: String, _ response: HTTPResponse) -> ProviderError {
        let reply = EC2ErrorReply.parse(status: response.status, body: response.body)
        let code = reply?.code ?? "HTTP \(response.status)"
        let detail = reply.map { "\($0.code): \($0.message)" } ?? "HTTP \(response.status)"
        if let reply, EC2ErrorReply.credentialCodes.union(["InvalidToken"]).contains(reply.code) {
            return .invalidCredentials(detail: "\(action): \(detail)")
        }
        if code == "AccessDenied" || response.status == 403 {
            return .accessDenied(action: iamAction, detail: "\(action): \(detail)")
        }
        if response.status >= 500 || code == "SlowDown" {
            return .transport(detail: "\(action): \(detail) (after \(retry.maxAttempts) attempts)")
        }
        return .cloud(code: code, detail: "\(action): \(reply?.message ?? "HTTP \(response.status)")")
    }
}
