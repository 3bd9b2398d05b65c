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
