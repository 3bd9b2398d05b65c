/// A provider whose vendor dstack can configure but not drive yet: every operation
/// throws `notImplemented`, so the CLI tells the user plainly instead of pretending.
public struct UnimplementedProvider: CloudProvider {
    /// The name the CLI shows: "GCP support is not implemented yet".
    public let vendor: String

    public init(vendor: String) {
        self.vendor = vendor
    }

    private var unavailable: ProviderError { .notImplemented(vendor: vendor) }

    public func verifyConfiguration() async throws { throw unavailable }
    public func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts { throw unavailable }
    public func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch { throw unavailable }
    public func terminate(_ target: TerminationTarget) async throws { throw unavailable }
    public func list(known: KnownResources) async throws -> [ManagedInstance] { throw unavailable }
}
