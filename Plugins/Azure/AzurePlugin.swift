import DstackProvider

/// Microsoft Azure, for now only its settings: `dstack azure configure` asks for and
/// saves them, but every cloud operation says it is not implemented yet.
public enum AzurePlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
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
        makeProvider: { _, _ in UnimplementedProvider(vendor: "Azure") }
    )
}
