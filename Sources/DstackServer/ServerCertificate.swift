import CTLSShim
import DstackCore
import Foundation
import HummingbirdTLS
import NIOSSL

/// The certificate `dstack server` serves HTTPS with: the user's (`--tls-cert`,
/// `--tls-key`), or a self-signed one made at first start and kept in
/// `DSTACK_HOME/tls/` (key 0600), so that runner tokens and logs never cross the network
/// in clear text. Instances trust a self-signed certificate through its public-key pin,
/// which their user data carries.
public struct ServerCertificate: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// `sha256//BASE64` of the certificate's public key; set for the self-signed one.
    public var pin: String?

    public init(certificatePath: String, keyPath: String, pin: String? = nil) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.pin = pin
    }

    public static func directory(_ home: DstackHome) -> URL { home.url.appendingPathComponent("tls") }

    /// The installation's self-signed certificate, made on first use for `host` and kept:
    /// instances launched before a restart still hold its pin.
    public static func selfSigned(home: DstackHome, host: String) throws -> ServerCertificate {
        let directory = Self.directory(home)
        let certificate = directory.appendingPathComponent("server.crt")
        let key = directory.appendingPathComponent("server.key")
        let fm = FileManager.default
        if !(fm.fileExists(atPath: certificate.path) && fm.fileExists(atPath: key.path)) {
            do {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CertificateError("cannot create \(directory.path): \(error.localizedDescription)")
            }
            let (certificatePEM, keyPEM) = try make(host: host)
            // The key first: a certificate without its key would be kept and never work.
            try AtomicFile.write(Array(keyPEM.utf8), to: key, mode: 0o600)
            try AtomicFile.write(Array(certificatePEM.utf8), to: certificate, mode: 0o600)
        }
        return ServerCertificate(certificatePath: certificate.path, keyPath: key.path,
                                 pin: try pin(ofCertificateAt: certificate.path))
    }

    /// A user's certificate and key, checked now so that a bad file is one sentence at
    /// start rather than a failed handshake later.
    public static func provided(certificatePath: String, keyPath: String) throws -> ServerCertificate {
        let provided = ServerCertificate(certificatePath: certificatePath, keyPath: keyPath)
        _ = try provided.tlsConfiguration()
        return provided
    }

    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw CertificateError("\(certificatePath) is not a readable PEM certificate")
        }
        guard !chain.isEmpty else { throw CertificateError("\(certificatePath) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw CertificateError("\(keyPath) is not a readable PEM private key")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// `sha256//BASE64` of a PEM certificate's SubjectPublicKeyInfo: a libcurl pin.
    public static func pin(ofCertificateAt path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw CertificateError("cannot read \(path)") }
        var digest = [UInt8](repeating: 0, count: 32)
        let status = String(decoding: data, as: UTF8.self).withCString { dstack_tls_spki_sha256($0, &digest) }
        guard status == 0 else { throw CertificateError("\(path) is not a PEM certificate") }
        return "sha256//" + Data(digest).base64EncodedString()
    }

    static func make(host: String) throws -> (certificate: String, key: String) {
        var names = ["DNS:localhost", "IP:127.0.0.1"]
        if !host.isEmpty && !AdvertiseURL.isLoopbackOrUnspecified(host) {
            names.insert((isIPAddress(host) ? "IP:" : "DNS:") + host, at: 0)
        }
        var certificate: UnsafeMutablePointer<CChar>? = nil
        var key: UnsafeMutablePointer<CChar>? = nil
        var error = [CChar](repeating: 0, count: 256)
        let status = dstack_tls_self_signed(host.isEmpty ? "dstack" : host, names.joined(separator: ","), 3650,
                                            &certificate, &key, &error, error.count)
        defer {
            free(certificate)
            free(key)
        }
        guard status == 0, let certificate, let key else {
            throw CertificateError("could not make a self-signed certificate: \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        return (String(cString: certificate), String(cString: key))
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

public struct CertificateError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
