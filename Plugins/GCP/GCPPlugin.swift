import DstackProvider

/// Google Cloud, for now only its settings: `dstack gcp configure` asks for and saves
/// them, so a user can prepare, but every cloud operation says it is not implemented yet.
public enum GCPPlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
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
        makeProvider: { _, _ in UnimplementedProvider(vendor: "GCP") }
    )
}
