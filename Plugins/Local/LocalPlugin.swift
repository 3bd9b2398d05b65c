import DstackProvider

/// The embedded default: "instances" are `dstack-runner` processes on this machine, so
/// dstack works end to end with no cloud account. Nothing to configure.
public enum LocalPlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
        vendor: "local",
        displayName: "Local",
        fields: [],
        instancesRunOnThisMachine: true,
        makeProvider: { _, context in LocalProvider(context: context) }
    )
}
