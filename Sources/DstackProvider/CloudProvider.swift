import Foundation

/// The only seam between the core and a cloud. A provider answers five questions and
/// nothing else; every policy decision (how many, which type, when to tear down) stays
/// in the core. "Not found" is a result, not a failure.
public protocol CloudProvider: Sendable {
    /// A read-only call that proves the settings work.
    func verifyConfiguration() async throws

    /// The type exists, is offered in the configured region and can run as spot.
    /// Throws `ProviderError.unsupportedInstanceType` otherwise.
    func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts

    /// Requests `request.count` one-time spot instances. Calling it again with the same
    /// idempotency token returns what the first call created instead of creating more.
    func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch

    /// Terminates instances and cancels spot requests. IDs already gone are not an error.
    func terminate(_ target: TerminationTarget) async throws

    /// Every instance this installation manages, in any state, as the cloud reports it.
    /// `known` carries what state already records, for clouds that cannot find an
    /// installation's resources by a filter alone.
    func list(known: KnownResources) async throws -> [ManagedInstance]
}

extension CloudProvider {
    public func list() async throws -> [ManagedInstance] {
        try await list(known: KnownResources())
    }
}

/// What the provider learns about its installation when it is made.
public struct ProviderContext: Sendable {
    /// A stable, random ID of this dstack installation (stored in state).
    public var installationID: String
    /// `$DSTACK_HOME`, for providers that keep files (the local provider).
    public var home: URL
    /// The process environment, injected so tests can control it.
    public var environment: [String: String]
    /// Told of each request to the cloud's API (the server's metrics); nil: nobody asks.
    public var callObserver: (any CloudCallObserver)?

    public init(installationID: String, home: URL, environment: [String: String] = ProcessInfo.processInfo.environment,
                callObserver: (any CloudCallObserver)? = nil) {
        self.installationID = installationID
        self.home = home
        self.environment = environment
        self.callObserver = callObserver
    }
}
