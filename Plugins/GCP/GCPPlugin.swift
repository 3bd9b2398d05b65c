import DstackCore

/// Google Cloud, for now only its settings: `dstack gcp configure` asks for and saves
/// them, so a user can prepare, but every cloud operation says it is not implemented yet.
public let gcpPlugin = ProviderPlugin(
    vendor: "gcp",
    displayName: "GCP",
    fields: [
        ConfigField(label: "Project ID", key: "project_id",
                    help: "The project that instances are created in."),
        ConfigField(label: "Service account key file", key: "service_account_key_file",
                    help: "Path to the JSON key of a service account allowed to manage Compute Engine."),
        ConfigField(label: "Region", key: "region",
                    help: "The region to create instances in, e.g. us-central1."),
        ConfigField(label: "Zone", key: "zone", isOptional: true,
                    help: "A zone within the region, e.g. us-central1-a; any zone of the region when empty."),
    ],
    makeProvider: { _, _ in GCPProvider() }
)

/// Every operation throws `notImplemented`, so the CLI tells the user plainly instead
/// of pretending to work.
struct GCPProvider: CloudProvider {
    private var unavailable: ProviderError { .notImplemented(vendor: "GCP") }

    func verifyConfiguration() async throws { throw unavailable }
    func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts { throw unavailable }
    func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch { throw unavailable }
    func terminate(_ target: TerminationTarget) async throws { throw unavailable }
    func list(known: KnownResources) async throws -> [ManagedInstance] { throw unavailable }
}
