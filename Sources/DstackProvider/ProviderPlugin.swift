/// One setting that `dstack <vendor> configure` asks for or takes as a flag.
public struct ConfigField: Sendable, Equatable {
    /// The prompt text, e.g. "AWS Access Key ID".
    public var label: String
    /// The key in config.json, snake_case, e.g. "access_key_id". The flag is derived
    /// from it: `--access-key-id`.
    public var key: String
    /// Secrets are masked when shown (`****************WXYZ`) and never logged.
    public var isSecret: Bool
    /// Optional fields may stay empty; the prompt shows `[None]` when they are.
    public var isOptional: Bool
    /// Used when neither the user nor the saved settings give a value.
    public var defaultValue: String?
    /// False for advanced settings that are flags only and never prompted for.
    public var isPrompted: Bool
    /// One line for `--help`.
    public var help: String

    public init(label: String, key: String, isSecret: Bool = false, isOptional: Bool = false,
                defaultValue: String? = nil, isPrompted: Bool = true, help: String = "") {
        self.label = label
        self.key = key
        self.isSecret = isSecret
        self.isOptional = isOptional
        self.defaultValue = defaultValue
        self.isPrompted = isPrompted
        self.help = help
    }

    /// `access_key_id` → `access-key-id`.
    public var flagName: String { key.replacingOccurrences(of: "_", with: "-") }
}

/// A vendor's saved settings, keyed by `ConfigField.key`.
public typealias ProviderSettings = [String: String]

/// A provider as the registry knows it: what to ask for and how to make one.
public struct ProviderPlugin: Sendable {
    /// Lower-case vendor name used on the command line and in config.json: "aws".
    public var vendor: String
    /// "AWS", "GCP", "Azure", "Local".
    public var displayName: String
    public var fields: [ConfigField]
    /// Makes a provider from saved settings. Throws `ProviderError.invalidConfiguration`
    /// when the settings cannot work at all.
    public var makeProvider: @Sendable (ProviderSettings, ProviderContext) throws -> any CloudProvider
    /// True when the provider's "instances" run on the server's own machine (the local
    /// provider): they reach a loopback URL and already have the runner. A cloud's
    /// instances need an address they can reach and a runner handed to them.
    public var instancesRunOnThisMachine: Bool
    /// Where this vendor's instances download the runner instead of from the server, as
    /// its settings say (`--runner-url`); nil when they say nothing. The core reads no
    /// vendor setting by name: the plugin knows its own.
    public var runnerDownloadURL: @Sendable (ProviderSettings) -> String?
    /// The vendor's artifact bucket when its settings name one (AWS: `artifact_s3_bucket`),
    /// else nil: the server then keeps artifacts in its own store under DSTACK_HOME.
    public var makeArtifactBucket: @Sendable (ProviderSettings, ProviderContext) throws -> (any ArtifactBucket)?
    /// What the provider would use for settings left unsaved, found in the server's own
    /// environment and files (AWS: the keys of AWS_ACCESS_KEY_ID or the AWS_PROFILE
    /// profile). Shown at the prompt, masked when secret; never saved.
    public var environmentFallbacks: @Sendable (ProviderContext) -> ProviderSettings
    /// Lines `dstack <vendor> configure --help` adds after its own description (AWS: where
    /// credentials come from when no key is saved, and whose environment that is).
    public var configureNotes: [String]

    public init(vendor: String, displayName: String, fields: [ConfigField], instancesRunOnThisMachine: Bool = false,
                runnerDownloadURL: @escaping @Sendable (ProviderSettings) -> String? = { _ in nil },
                makeArtifactBucket: @escaping @Sendable (ProviderSettings, ProviderContext) throws -> (any ArtifactBucket)? = { _, _ in nil },
                environmentFallbacks: @escaping @Sendable (ProviderContext) -> ProviderSettings = { _ in [:] },
                configureNotes: [String] = [],
                makeProvider: @escaping @Sendable (ProviderSettings, ProviderContext) throws -> any CloudProvider) {
        self.vendor = vendor
        self.displayName = displayName
        self.fields = fields
        self.instancesRunOnThisMachine = instancesRunOnThisMachine
        self.runnerDownloadURL = runnerDownloadURL
        self.makeArtifactBucket = makeArtifactBucket
        self.environmentFallbacks = environmentFallbacks
        self.configureNotes = configureNotes
        self.makeProvider = makeProvider
    }
}

/// The built-in providers, in the order the CLI lists them.
public struct ProviderRegistry: Sendable {
    public var plugins: [ProviderPlugin]

    public init(_ plugins: [ProviderPlugin]) {
        self.plugins = plugins
    }

    public func plugin(named vendor: String) -> ProviderPlugin? {
        plugins.first { $0.vendor == vendor.lowercased() }
    }

    public var vendors: [String] { plugins.map(\.vendor) }
}

/// What each folder `Plugins/<Name>` declares so that the registry finds it: in the
/// module `Dstack<Name>`, `public enum <Name>Plugin: BuiltinProvider` (for example
/// `DstackAWS.AWSPlugin`). Package.swift's `providers` list names the folder; nothing
/// else does (CONTRIBUTING.md, "Adding a cloud provider").
public protocol BuiltinProvider {
    static var plugin: ProviderPlugin { get }
}
