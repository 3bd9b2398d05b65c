/// Every failure a provider reports. The CLI turns each case into one sentence a user
/// can act on (`userMessage`).
public enum ProviderError: Error, Sendable, Equatable {
    /// The cloud rejected the credentials (wrong key, wrong secret, expired token).
    case invalidCredentials(detail: String)
    /// The credentials work but may not perform `action` (e.g. "ec2:RequestSpotInstances").
    case accessDenied(action: String, detail: String)
    /// The type does not exist, is not offered in the region, or cannot run as spot.
    case unsupportedInstanceType(name: String, reason: String)
    /// The cloud's rate limit; retried by the provider before it surfaces.
    case throttled(detail: String)
    /// No spot capacity for the type right now; the autoscaler decides what to do.
    case capacityUnavailable(instanceType: String, detail: String)
    /// The provider is a stub (GCP, Azure).
    case notImplemented(vendor: String)
    /// The network, TLS, a timeout, or a reply that could not be read.
    case transport(detail: String)
    /// The saved settings are incomplete or malformed (no region, a bad URL, ...).
    case invalidConfiguration(detail: String)
    /// Any other error the cloud returned, with its own code.
    case cloud(code: String, detail: String)

    /// One sentence, ready for the terminal.
    public var userMessage: String {
        switch self {
        case .invalidCredentials(let detail):
            return "the credentials were rejected" + (detail.isEmpty ? "" : " (\(detail))")
        case .accessDenied(let action, let detail):
            return "access denied: the credentials are not allowed to perform \(action)" + (detail.isEmpty ? "" : " (\(detail))")
        case .unsupportedInstanceType(let name, let reason):
            return "instance type \(name) is not supported: \(reason)"
        case .throttled(let detail):
            return "the cloud is throttling requests, try again shortly (\(detail))"
        case .capacityUnavailable(let type, let detail):
            return "no spot capacity for \(type) right now" + (detail.isEmpty ? "" : " (\(detail))")
        case .notImplemented(let vendor):
            return "\(vendor) support is not implemented yet; please write to hello@dstack.ai"
        case .transport(let detail):
            return "could not reach the cloud: \(detail)"
        case .invalidConfiguration(let detail):
            return "the provider settings are not usable: \(detail)"
        case .cloud(let code, let detail):
            return "the cloud returned \(code): \(detail)"
        }
    }
}
