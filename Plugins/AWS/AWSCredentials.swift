import DstackProvider
import Foundation

/// An access key, with the session token and expiry that temporary credentials carry.
/// `description` never shows the secret.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials (IMDS, SSO) stop working; nil for long-lived keys.
    public var expiration: Date?
    /// Where they came from: "settings", "environment", "profile default", "imds".
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
                expiration: Date? = nil, source: String = "settings") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String {
        "AWSCredentials(\(accessKeyID), secret: ****, token: \(sessionToken == nil ? "none" : "****"), from \(source))"
    }

    /// True when they expire within `margin` seconds of `now`.
    func expires(within margin: TimeInterval, of now: Date) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) < margin
    }
}

/// The saved keys go in pairs: a key ID without its secret (or the reverse) would
/// silently fall through to the environment's credentials, so it is refused instead.
enum AWSCredentialSettings {
    static func check(_ settings: [String: String]) throws {
        func isSet(_ key: String) -> Bool { !(settings[key]?.trimmingCharacters(in: .whitespaces).isEmpty ?? true) }
        switch (isSet("access_key_id"), isSet("secret_access_key")) {
        case (true, false):
            throw ProviderError.invalidConfiguration(
                detail: "an AWS Access Key ID is saved without its Secret Access Key; give both, or neither to use the credential chain")
        case (false, true):
            throw ProviderError.invalidConfiguration(
                detail: "an AWS Secret Access Key is saved without its Access Key ID; give both, or neither to use the credential chain")
        default:
            return
        }
    }
}
