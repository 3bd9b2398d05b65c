import Foundation

/// Told of every call a provider makes to its cloud, for the server's metrics. A provider
/// that talks to an API reports each request by the API's own action name (EC2's
/// `DescribeInstances`) with the error code the cloud answered, and each retry of a
/// throttled request; the core reports each of the five operations of the seam. Nothing
/// here knows about metrics: an observer counts what it is told.
public protocol CloudCallObserver: Sendable {
    /// One request to the cloud's API: `errorCode` nil when it succeeded.
    func cloudAPICall(action: String, errorCode: String?)
    /// A request the cloud throttled, about to be sent again after a backoff.
    func throttlingRetry(action: String)
    /// One operation of the seam (`list`, `request_spot`, ...): `error` nil when it succeeded.
    func providerOperation(_ operation: String, error: ProviderError?)
}

extension ProviderError {
    /// A stable snake_case name for the kind of failure, for metrics labels.
    public var kindName: String {
        switch self {
        case .invalidCredentials: return "invalid_credentials"
        case .accessDenied: return "access_denied"
        case .unsupportedInstanceType: return "unsupported_instance_type"
        case .throttled: return "throttled"
        case .capacityUnavailable: return "capacity_unavailable"
        case .notImplemented: return "not_implemented"
        case .transport: return "transport"
        case .invalidConfiguration: return "invalid_configuration"
        case .cloud(let code, _): return code
        }
    }
}

/// A provider whose five operations are reported to an observer; the calls themselves
/// go to the wrapped provider unchanged.
public struct ObservedCloudProvider: CloudProvider {
    public let wrapped: any CloudProvider
    public let observer: any CloudCallObserver

    public init(_ wrapped: any CloudProvider, observer: any CloudCallObserver) {
        self.wrapped = wrapped
        self.observer = observer
    }

    private func observe<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            observer.providerOperation(operation, error: nil)
            return result
        } catch let error as ProviderError {
            observer.providerOperation(operation, error: error)
            throw error
        } catch {
            observer.providerOperation(operation, error: .transport(detail: String(describing: error)))
            throw error
        }
    }

    public func verifyConfiguration() async throws {
        try await observe("verify_configuration") { try await wrapped.verifyConfiguration() }
    }

    public func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        try await observe("validate_instance_type") { try await wrapped.validateInstanceType(name) }
    }

    public func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch {
        try await observe("request_spot") { try await wrapped.requestSpot(request) }
    }

    public func terminate(_ target: TerminationTarget) async throws {
        try await observe("terminate") { try await wrapped.terminate(target) }
    }

    public func list(known: KnownResources) async throws -> [ManagedInstance] {
        try await observe("list") { try await wrapped.list(known: known) }
    }
}
