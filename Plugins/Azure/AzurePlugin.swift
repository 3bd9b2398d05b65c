import DstackCore

/// Microsoft Azure, for now only its settings: `dstack azure configure` asks for and
/// saves them, but every cloud operation says it is not implemented yet.
public let azurePlugin = ProviderPlugin(
    vendor: "azure",
    displayName: "Azure",
    fields: [
        ConfigField(label: "Subscription ID", key: "subscription_id",
                    help: "The subscription that is billed for instances."),
        ConfigField(label: "Tenant ID", key: "tenant_id",
                    help: "The Azure Active Directory tenant of the service principal."),
        ConfigField(label: "Client ID", key: "client_id",
                    help: "The application (client) ID of the service principal."),
        ConfigField(label: "Client secret", key: "client_secret", isSecret: true,
                    help: "The service principal's client secret."),
        ConfigField(label: "Location", key: "location",
                    help: "The location to create instances in, e.g. eastus."),
    ],
    makeProvider: { _, _ in AzureProvider() }
)

/// Every operation throws `notImplemented`, so the CLI tells the user plainly instead
/// of pretending to work.
struct AzureProvider: CloudProvider {
    private var unavailable: ProviderError { .notImplemented(vendor: "Azure") }

    func verifyConfiguration() async throws { throw unavailable }
    func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts { throw unavailable }
    func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch { throw unavailable }
    func terminate(_ target: TerminationTarget) async throws { throw unavailable }
    func list(known: KnownResources) async throws -> [ManagedInstance] { throw unavailable }
}
