import DstackProvider

/// The embedded default: "instances" are `dstack-runner` processes on this machine, so
/// dstack works end to end with no cloud account. Nothing to configure.
///
/// One flag-only setting, for load tests: `dstack local configure --simulated true`
/// makes launches start no process (SimulatedInstances.swift). Another, for tests of the
/// spot lifecycle: `--metadata-url URL` (LocalMetadataURL.swift).
public enum LocalPlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
        vendor: "local",
        displayName: "Local",
        fields: [
            ConfigField(label: "Simulated instances", key: LocalProvider.simulatedSetting, isOptional: true, isPrompted: false,
                        help: "true: launches start no process, only record the instance and its user data, for a load test's simulated runners"),
            ConfigField(label: "Metadata service URL", key: LocalProvider.metadataURLSetting, isOptional: true, isPrompted: false,
                        help: "a stand-in instance metadata service (tests): each runner watches URL/INSTANCE_ID for spot notices"),
        ],
        instancesRunOnThisMachine: true,
        makeProvider: { settings, context in
            LocalProvider(context: context, simulated: try LocalProvider.isSimulated(settings),
                          metadataURL: try LocalProvider.metadataURL(settings))
        }
    )
}
