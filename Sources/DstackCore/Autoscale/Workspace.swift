import Foundation

/// One dstack installation as the commands see it: the home directory, the
/// configuration, the state, and the provider the configuration makes active.
/// Vendor names come only from the registry; nothing here knows one.
public final class Workspace: @unchecked Sendable {
    public let home: DstackHome
    public let registry: ProviderRegistry
    public let environment: [String: String]
    /// The Postgres database that holds the state (`dstack server --database-url`); nil:
    /// the home's state.db.
    public let databaseURL: DatabaseURL?
    private let lock = NSLock()
    private var openedState: StateStore?
    /// The provider made from the settings it was made from: a long-running server keeps
    /// one provider (and its caches and connections) until the settings change.
    private var madeProvider: (vendor: String, settings: ProviderSettings, provider: any CloudProvider)?
    private var observer: (any CloudCallObserver)?

    /// Told of every cloud call of the providers made from now on (the server's metrics):
    /// each of the seam's operations, and each API request the provider reports.
    public var callObserver: (any CloudCallObserver)? {
        get { lock.withLock { observer } }
        set { lock.withLock { observer = newValue; madeProvider = nil } }
    }

    public init(home: DstackHome, registry: ProviderRegistry, environment: [String: String] = ProcessInfo.processInfo.environment,
                databaseURL: DatabaseURL? = nil) {
        self.home = home
        self.registry = registry
        self.environment = environment
        self.databaseURL = databaseURL
    }

    public var configStore: ConfigStore { ConfigStore(home: home) }

    public func configuration() throws -> Configuration {
        try configStore.load()
    }

    /// Opens the state on first use (creating the home and the schema if needed).
    public func state() throws -> StateStore {
        try lock.withLock {
            if let openedState { return openedState }
            if databaseURL != nil { try home.prepare() }
            let store = try StateStore(home: home, databaseURL: databaseURL)
            openedState = store
            return store
        }
    }

    public func context() throws -> ProviderContext {
        ProviderContext(installationID: try state().read { try $0.installationID() }, home: home.url, environment: environment,
                        callObserver: callObserver)
    }

    /// Makes the named vendor's provider from settings (saved ones unless given).
    public func provider(vendor: String, settings: ProviderSettings? = nil) throws -> any CloudProvider {
        guard let plugin = registry.plugin(named: vendor) else { throw WorkspaceError.unknownVendor(vendor, known: registry.vendors) }
        let saved = try configuration().providers[plugin.vendor] ?? [:]
        let wanted = settings ?? saved
        if let made = lock.withLock({ madeProvider }), made.vendor == plugin.vendor, made.settings == wanted {
            return made.provider
        }
        let made = try plugin.makeProvider(wanted, try context())
        let provider: any CloudProvider = callObserver.map { ObservedCloudProvider(made, observer: $0) } ?? made
        lock.withLock { madeProvider = (plugin.vendor, wanted, provider) }
        return provider
    }

    /// The provider that autoscaling uses, or `noProviderConfigured`.
    public func activeProvider() throws -> ActiveProvider {
        guard let vendor = try configuration().activeVendor else {
            throw WorkspaceError.noProviderConfigured(known: registry.vendors)
        }
        guard let plugin = registry.plugin(named: vendor) else {
            throw WorkspaceError.unknownActiveVendor(vendor, path: configStore.path)
        }
        return ActiveProvider(plugin: plugin, provider: try provider(vendor: vendor))
    }

    /// The active vendor's name, or nil; never fails on a missing configuration file.
    public func activeVendor() throws -> String? {
        try configuration().activeVendor
    }
}

public struct ActiveProvider {
    public var plugin: ProviderPlugin
    public var provider: any CloudProvider
    public var vendor: String { plugin.vendor }
}

public enum WorkspaceError: Error, Equatable, CustomStringConvertible {
    case unknownVendor(String, known: [String])
    case noProviderConfigured(known: [String])
    case unknownActiveVendor(String, path: String)

    public var description: String {
        switch self {
        case .unknownVendor(let vendor, let known):
            return "unknown vendor '\(vendor)'; dstack knows \(known.joined(separator: ", "))"
        case .noProviderConfigured(let known):
            return "no cloud provider is configured; run 'dstack <vendor> configure' first, where <vendor> is one of \(known.joined(separator: ", "))"
        case .unknownActiveVendor(let vendor, let path):
            return "\(path) names '\(vendor)' as the active vendor, which this dstack does not know; run 'dstack <vendor> configure'"
        }
    }
}
