import CCurl
import CCurlShim
import Foundation

/// HTTP over libcurl. Connections are kept alive and reused per host: each host has a
/// small pool of easy handles, and an easy handle keeps its connection between requests.
/// TLS verification is always on unless a test turns it off explicitly.
public final class CurlHTTPClient: HTTPTransport, @unchecked Sendable {
    public struct Options: Sendable {
        public var connectTimeout: TimeInterval
        public var totalTimeout: TimeInterval
        public var verifyTLS: Bool
        public var caFile: String?
        /// `sha256//BASE64` of the server's public key (SPKI). When set, the key is
        /// checked instead of the chain: dstack's self-signed server certificates.
        public var pinnedPublicKey: String?
        public var proxy: ProxySettings
        /// Idle handles kept per host; more concurrent requests make new ones.
        public var maxIdlePerHost: Int

        public init(connectTimeout: TimeInterval = 5, totalTimeout: TimeInterval = 30, verifyTLS: Bool = true,
                    caFile: String? = nil, proxy: ProxySettings = .fromEnvironment(ProcessInfo.processInfo.environment),
                    maxIdlePerHost: Int = 4, pinnedPublicKey: String? = nil) {
            self.pinnedPublicKey = pinnedPublicKey
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.verifyTLS = verifyTLS
            self.caFile = caFile
            self.proxy = proxy
            self.maxIdlePerHost = maxIdlePerHost
        }
    }

    public let options: Options
    private let lock = NSLock()
    private var idle: [String: [OpaquePointer]] = [:]
    private let queue = DispatchQueue(label: "dstack.http", attributes: .concurrent)

    public init(options: Options = Options()) {
        self.options = options
        dstack_curl_global_init()
    }

    deinit {
        for handles in idle.values { handles.forEach { curl_easy_cleanup(UnsafeMutableRawPointer($0)) } }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.sendBlocking(request) })
            }
        }
    }

    /// Sends on the calling thread. For code that is not async (the runner's loops).
    public func sendBlocking(_ request: HTTPRequest) throws -> HTTPResponse {
        try sendBlocking(request, streaming: nil)
    }

    /// Sends on the calling thread with `streaming`'s body and reply files (see
    /// `HTTPStreaming`); `request.body` is ignored when a body file is given.
    public func sendBlocking(_ request: HTTPRequest, streaming: HTTPStreaming?) throws -> HTTPResponse {
        guard let key = Self.poolKey(request.url) else { throw HTTPError.invalidURL(request.url) }
        let handle = checkout(key)
        var keep = true
        defer { checkin(key, handle, keep: keep) }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        // An empty Expect stops curl's 1-second "100-continue" wait on larger bodies.
        for header in request.headers + [HTTPHeader("Expect", "")] {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        defer { curl_slist_free_all(headerList) }

        let proxy = options.proxy.proxy(for: request.url)
        var response = dstack_curl_response()
        defer {
            dstack_buffer_free(&response.body)
            dstack_buffer_free(&response.headers)
        }
        let code: CURLcode = request.method.withCString { method in
            request.url.withCString { url in
                request.body.withUnsafeBufferPointer { body in
                    withOptionalCString(proxy) { proxyC in
                        withOptionalCString(options.proxy.noProxy) { noProxyC in
                            withOptionalCString(options.caFile) { caC in
                              withOptionalCString(options.pinnedPublicKey) { pinC in
                                var rq = dstack_curl_request()
                                rq.method = method
                                rq.url = url
                                rq.headers = headerList
                                rq.body = body.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                                rq.body_length = body.count
                                rq.connect_timeout_ms = Int(options.connectTimeout * 1000)
                                rq.total_timeout_ms = Int(options.totalTimeout * 1000)
                                rq.verify_tls = options.verifyTLS ? 1 : 0
                                rq.proxy = proxyC
                                rq.no_proxy = noProxyC
                                rq.ca_file = caC
                                rq.pinned_public_key = pinC
                                if let upload = streaming?.upload {
                                    rq.upload_from_fd = 1
                                    rq.upload_fd = upload.fd
                                    rq.upload_offset = upload.offset
                                    rq.upload_length = upload.length
                                }
                                if let fd = streaming?.downloadFD {
                                    rq.download_to_fd = 1
                                    rq.download_fd = fd
                                }
                                if let stall = streaming?.stallTimeout { rq.low_speed_time_s = Int(stall) }
                                return dstack_curl_perform(UnsafeMutableRawPointer(handle), &rq, &response)
                              }
                            }
                        }
                    }
                }
            }
        }
        guard code == CURLE_OK else {
            keep = false // a failed transfer may leave the connection in any state
            let detail = Self.errorText(code, &response)
            switch code {
            case CURLE_OPERATION_TIMEDOUT: throw HTTPError.timedOut(url: request.url, detail: detail)
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
                throw HTTPError.couldNotConnect(url: request.url, detail: detail)
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                throw HTTPError.tls(url: request.url, detail: detail)
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: throw HTTPError.invalidURL(request.url)
            default: throw HTTPError.other(url: request.url, detail: detail)
            }
        }
        let body = response.body.data.map { Array(UnsafeRawBufferPointer(start: $0, count: response.body.length)) } ?? []
        let headerText = response.headers.data.map { String(cString: $0) } ?? ""
        return HTTPResponse(status: response.status, headers: Self.finalHeaders(headerText), body: body,
                            reusedConnection: response.new_connections == 0)
    }

    /// Drops every idle connection (the next request to each host connects anew).
    public func closeIdleConnections() {
        lock.lock()
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        lock.unlock()
        all.forEach { curl_easy_cleanup(UnsafeMutableRawPointer($0)) }
    }

    private func checkout(_ key: String) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let handle = idle[key]?.popLast() { return handle }
        return OpaquePointer(curl_easy_init()!)
    }

    private func checkin(_ key: String, _ handle: OpaquePointer, keep: Bool) {
        lock.lock()
        if keep, idle[key, default: []].count < options.maxIdlePerHost {
            idle[key, default: []].append(handle)
            lock.unlock()
        } else {
            lock.unlock()
            curl_easy_cleanup(UnsafeMutableRawPointer(handle))
        }
    }

    /// scheme://host:port, lower-cased: the unit of connection reuse.
    static func poolKey(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host.lowercased()):\(port)"
    }

    /// The headers of the last response block: curl reports interim ones too.
    static func finalHeaders(_ text: String) -> [HTTPHeader] {
        var headers: [HTTPHeader] = []
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("HTTP/") { headers = []; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(HTTPHeader(name, value))
        }
        return headers
    }

    private static func errorText(_ code: CURLcode, _ response: inout dstack_curl_response) -> String {
        let buffer = withUnsafeBytes(of: &response.error) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        return buffer.isEmpty ? String(cString: curl_easy_strerror(code)) : buffer
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
