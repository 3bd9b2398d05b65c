import CProviderList
import DstackProvider

/// The built-in providers, in the order of Package.swift's `providers` list. That list
/// is the only one: adding a provider is a folder under Plugins/ and its name there
/// (CONTRIBUTING.md has the steps).
public let builtinRegistry = ProviderRegistry(BuiltinProviders.names.map(BuiltinProviders.plugin(named:)))

public enum BuiltinProviders {
    /// Package.swift's `providers`, e.g. ["AWS", "Local", "GCP", "Azure"].
    public static let names: [String] = String(cString: dstack_provider_names()).split(separator: " ").map(String.init)

    /// `Dstack<Name>.<Name>Plugin`'s plugin. Package.swift links every listed module into
    /// whatever links the registry, and the Swift runtime finds a type by its mangled
    /// name: `<length><module><length><type>O` is the enum `<type>` of `<module>`.
    /// A listed folder without that enum is a packaging mistake, so it stops the program
    /// at once with what to declare (the first test run shows it).
    static func plugin(named name: String) -> ProviderPlugin {
        let module = "Dstack" + name, type = name + "Plugin"
        let mangled = "\(module.utf8.count)\(module)\(type.utf8.count)\(type)O"
        guard let entry = _typeByName(mangled) as? any BuiltinProvider.Type else {
            fatalError("Plugins/\(name) must declare `public enum \(type): BuiltinProvider` (Package.swift lists \(name))")
        }
        return entry.plugin
    }
}
