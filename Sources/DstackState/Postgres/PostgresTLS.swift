import Foundation
import NIOSSL
import PostgresNIO

extension DatabaseURL {
    /// PostgresNIO's TLS setting for `sslMode`: NIOSSL (BoringSSL) with the system's
    /// roots, or only `sslRootCertificate`'s. A root file that cannot be read is one
    /// sentence (`PostgresFailure`), not a connection failure to retry.
    func postgresTLS() throws -> PostgresConnection.Configuration.TLS {
        guard sslMode != .disable else { return .disable }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let path = sslRootCertificate {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw PostgresFailure(sentence: "the database URL's sslrootcert \(path) is not a readable PEM certificate file")
            }
            guard !roots.isEmpty else {
                throw PostgresFailure(sentence: "the database URL's sslrootcert \(path) holds no PEM certificate")
            }
            configuration.trustRoots = .certificates(roots)
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw PostgresFailure(sentence: "cannot set up TLS to the database (\(self)): \(error)")
        }
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    /// Whom a verified certificate must chain to, as an error says it.
    var trustedRootsText: String {
        sslRootCertificate.map { "the certificates in sslrootcert \($0)" } ?? "the system's certificate authorities"
    }
}

extension PostgresFailure {
    /// A TLS failure as one sentence: the handshake refused the server's certificate
    /// (untrusted chain, wrong host name), or the server offers no TLS. nil: not TLS.
    /// (The callers' errors name the database's URL, so these do not repeat it.)
    static func tls(_ error: any Error, url: DatabaseURL?) -> PostgresFailure? {
        let mode = url.map { "sslmode=\($0.sslMode.rawValue)" } ?? "the database URL"
        var underlying: any Error = error
        if let psql = error as? PSQLError {
            if psql.code == .sslUnsupported {
                return PostgresFailure(sentence: "the database does not offer TLS, which \(mode) asks for", unavailable: false)
            }
            if let inner = psql.underlying { underlying = inner }
        }
        switch underlying {
        case let ssl as NIOSSLExtraError where ssl == .failedToValidateHostname:
            return PostgresFailure(sentence: "the database's TLS certificate does not name the host connected to; "
                                   + "connect by a name the certificate holds, or use sslmode=verify-ca", unavailable: false)
        case let ssl as NIOSSLError:
            let detail = "\(ssl)".replacingOccurrences(of: "\n", with: " ")
            if detail.contains("CERTIFICATE_VERIFY_FAILED") || detail.lowercased().contains("certificate verify failed") {
                let roots = url.map { $0.trustedRootsText } ?? "the trusted roots"
                return PostgresFailure(sentence: "the database's TLS certificate is not signed by \(roots), so \(mode) refuses it",
                                       unavailable: false)
            }
            return PostgresFailure(sentence: "the TLS handshake with the database failed: \(detail)", unavailable: true)
        case is NIOSSLExtraError:
            return PostgresFailure(sentence: "the TLS handshake with the database failed: \(underlying)", unavailable: true)
        default:
            return nil
        }
    }
}
