import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The runner's artifact calls: the small JSON ones to the server (where to upload, the
/// multipart ETags, the manifest, the deps' files) and the streamed transfers of file
/// bytes, to the server's store (with the bearer) or to presigned bucket URLs (with
/// nothing else). Each returns its outcome as a `TransferOutcome`, so that the callers
/// decide what to retry.
final class ArtifactTransfer: @unchecked Sendable { // immutable after init; CurlHTTPClient locks its own pool
    let client: RunnerAPIClient
    /// No total timeout (a 1 GiB file over a slow link takes what it takes), but a
    /// stalled transfer ends after a minute under 1 KiB/s. Keeps a connection for each
    /// part a multipart upload has in flight.
    private let transferHTTP: CurlHTTPClient
    /// Completing a multipart upload joins its parts in the bucket while the call waits:
    /// minutes for a big object on S3 (its documentation says so), tens of seconds on a
    /// busy moto. The 20 s of the other calls would give up on a completion still under
    /// way and send it again, which only makes the bucket do the work twice.
    private let completionHTTP: CurlHTTPClient
    static let completionTimeout: TimeInterval = 900

    init(client: RunnerAPIClient, connections: Int = 8) {
        self.client = client
        let proxy = ProxySettings.fromEnvironment(ProcessInfo.processInfo.environment)
        transferHTTP = CurlHTTPClient(options: .init(connectTimeout: 10, totalTimeout: 0, proxy: proxy,
                                                     maxIdlePerHost: connections, pinnedPublicKey: client.serverPin))
        completionHTTP = CurlHTTPClient(options: .init(connectTimeout: 5, totalTimeout: Self.completionTimeout, proxy: proxy,
                                                       maxIdlePerHost: 1, pinnedPublicKey: client.serverPin))
    }

    /// What one request came to.
    enum TransferOutcome {
        case ok(HTTPResponse)
        /// Worth trying again as is: a dropped connection, a timeout, 5xx, 429.
        case retry(String)
        /// The URL no longer works (a presigned URL that expired: 403): ask for a fresh one.
        case refresh(String)
        /// Retrying cannot help.
        case fail(String)
    }

    // MARK: JSON calls to the server

    func uploadPlan(runID: String, _ request: RunnerAPI.UploadRequest) -> (TransferOutcome, RunnerAPI.UploadPlan?) {
        decode(post(RunnerAPI.artifactUploadsPath(instance: client.instanceID, run: runID), request.json), RunnerAPI.UploadPlan.self)
    }

    func complete(runID: String, _ completion: RunnerAPI.CompleteUpload) -> TransferOutcome {
        post(RunnerAPI.artifactCompletePath(instance: client.instanceID, run: runID), completion.json, over: completionHTTP)
    }

    func manifest(runID: String, _ manifest: RunnerAPI.Manifest) -> TransferOutcome {
        post(RunnerAPI.artifactManifestPath(instance: client.instanceID, run: runID), manifest.json)
    }

    func depFiles(runID: String) -> (TransferOutcome, RunnerAPI.DepFiles?) {
        let request = HTTPRequest(method: "GET", url: client.serverURL + RunnerAPI.depsPath(instance: client.instanceID, run: runID),
                                  headers: client.authorization())
        return decode(send(request, streaming: nil, presigned: false), RunnerAPI.DepFiles.self)
    }

    // MARK: streamed transfers

    /// PUTs `length` bytes of `fd` from `offset` to `url` (see `UploadPlan` for the two kinds).
    func put(url: String, fd: Int32, offset: Int64, length: Int64) -> TransferOutcome {
        let (full, presigned) = resolve(url)
        var headers = presigned ? [] : client.authorization()
        headers.append(HTTPHeader("Content-Type", "application/octet-stream"))
        let request = HTTPRequest(method: "PUT", url: full, headers: headers)
        return send(request, streaming: HTTPStreaming(upload: .init(fd: fd, offset: offset, length: length)), presigned: presigned)
    }

    /// GETs `url` into `fd` (a 2xx body only; an error's body stays in the reply).
    func get(url: String, into fd: Int32) -> TransferOutcome {
        let (full, presigned) = resolve(url)
        let request = HTTPRequest(method: "GET", url: full, headers: presigned ? [] : client.authorization())
        return send(request, streaming: HTTPStreaming(downloadFD: fd), presigned: presigned)
    }

    // MARK: plumbing

    private func resolve(_ url: String) -> (String, presigned: Bool) {
        url.hasPrefix("/") ? (client.serverURL + url, false) : (url, true)
    }

    private func post(_ path: String, _ body: JSONValue, over http: CurlHTTPClient? = nil) -> TransferOutcome {
        let request = HTTPRequest(method: "POST", url: client.serverURL + path,
                                  headers: [HTTPHeader("Content-Type", "application/json")] + client.authorization(),
                                  body: body.serialized())
        return send(request, streaming: nil, presigned: false, over: http)
    }

    private func decode<T: RunnerAPIPayload>(_ outcome: TransferOutcome, _ type: T.Type) -> (TransferOutcome, T?) {
        guard case .ok(let reply) = outcome else { return (outcome, nil) }
        do {
            return (outcome, try T(json: try JSONValue.parse(reply.body)))
        } catch {
            return (.fail("the server's reply is not one this runner understands (\(error))"), nil)
        }
    }

    private func send(_ request: HTTPRequest, streaming: HTTPStreaming?, presigned: Bool, over http: CurlHTTPClient? = nil) -> TransferOutcome {
        let reply: HTTPResponse
        do {
            reply = try (http ?? (streaming == nil ? client.callHTTP : transferHTTP)).sendBlocking(request, streaming: streaming)
        } catch {
            return .retry("\(error)")
        }
        if !presigned, reply.status < 500 { client.contact.recordContact() }
        switch reply.status {
        case 200..<300: return .ok(reply)
        case 429, 500...: return .retry("\(presigned ? "the bucket" : "the server") answered \(reply.status)")
        // A presigned URL past its expiry is a 403 from S3: the server signs a fresh one.
        case 403 where presigned: return .refresh("the bucket refused the URL (403; expired?)")
        // The server's store refuses a body that arrived short or changed (400): send it again.
        case 400 where !presigned && streaming?.upload != nil:
            return .retry("the server refused the upload: \(RunnerAPIClient.errorSentence(reply))")
        default:
            return .fail("\(presigned ? "the bucket" : "the server") answered \(reply.status): \(RunnerAPIClient.errorSentence(reply))")
        }
    }
}
