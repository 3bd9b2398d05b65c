import DstackCore
import Foundation

/// How `dstack server` listens and what URL it gives instances, from its flags:
///
/// - `--tls-cert` and `--tls-key`: HTTPS with the user's certificate.
/// - Otherwise, when instances are given a URL other machines reach (not loopback,
///   not 0.0.0.0): HTTPS with a self-signed certificate kept in `DSTACK_HOME`, whose
///   public-key pin goes into the instances' user data.
/// - Plain `http://` to an address other machines reach only with `--insecure-http`.
/// - Loopback stays plain HTTP: nothing leaves the machine.
public struct ServerEndpoint: Sendable, Equatable {
    public enum Certificate: Sendable, Equatable {
        case none
        case provided(certificatePath: String, keyPath: String)
        /// Made (once) for this host and kept in DSTACK_HOME/tls.
        case selfSigned(host: String)
    }

    public var advertiseURL: String
    public var certificate: Certificate

    public static func resolve(host: String, port: Int, advertiseURL: String?, tlsCertificate: String?, tlsKey: String?,
                               insecureHTTP: Bool) throws -> ServerEndpoint {
        switch (tlsCertificate, tlsKey) {
        case (nil, nil): break
        case (.some, nil): throw EndpointError("--tls-cert needs --tls-key")
        case (nil, .some): throw EndpointError("--tls-key needs --tls-cert")
        case (.some, .some):
            if insecureHTTP { throw EndpointError("--insecure-http cannot be combined with --tls-cert") }
        }
        if let advertiseURL, AdvertiseURL.host(of: advertiseURL) == nil
            || !(advertiseURL.hasPrefix("http://") || advertiseURL.hasPrefix("https://")) {
            throw EndpointError("--advertise-url must be an http(s) URL with a host, got '\(advertiseURL)'")
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        if let certificate = tlsCertificate, let key = tlsKey {
            let url = advertiseURL ?? "https://\(bracketed):\(port)"
            if url.hasPrefix("http://") {
                throw EndpointError("--advertise-url must be https:// when the server serves TLS (--tls-cert), got '\(url)'")
            }
            return ServerEndpoint(advertiseURL: url, certificate: .provided(certificatePath: certificate, keyPath: key))
        }
        let advertisedHost = advertiseURL.flatMap(AdvertiseURL.host(of:)) ?? host
        if AdvertiseURL.isLoopbackOrUnspecified(advertisedHost) || insecureHTTP {
            if let advertiseURL, advertiseURL.hasPrefix("https://"), !insecureHTTP {
                // https on loopback: a self-signed certificate works as well there.
                return ServerEndpoint(advertiseURL: advertiseURL, certificate: .selfSigned(host: advertisedHost))
            }
            if insecureHTTP, let advertiseURL, advertiseURL.hasPrefix("https://") {
                throw EndpointError("--advertise-url is https:// but --insecure-http serves plain http")
            }
            return ServerEndpoint(advertiseURL: advertiseURL ?? "http://\(bracketed):\(port)", certificate: .none)
        }
        if let advertiseURL, advertiseURL.hasPrefix("http://") {
            throw EndpointError("--advertise-url \(advertiseURL) would send runner tokens and logs unencrypted; "
                + "use https:// (dstack makes a self-signed certificate) or pass --insecure-http")
        }
        return ServerEndpoint(advertiseURL: advertiseURL ?? "https://\(bracketed):\(port)", certificate: .selfSigned(host: advertisedHost))
    }

    /// The certificate to serve, made or checked now.
    public func serverCertificate(home: DstackHome) throws -> ServerCertificate? {
        switch certificate {
        case .none: return nil
        case .provided(let certificatePath, let keyPath):
            return try ServerCertificate.provided(certificatePath: certificatePath, keyPath: keyPath)
        case .selfSigned(let host):
            return try ServerCertificate.selfSigned(home: home, host: host)
        }
    }
}

public struct EndpointError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
