/// The contents of config.json: which vendor is active and each vendor's settings.
public struct Configuration: Sendable, Equatable {
    /// The vendor whose provider the autoscaler uses; nil until one is configured.
    public var activeVendor: String?
    /// Settings per vendor, keyed by `ConfigField.key`.
    public var providers: [String: ProviderSettings]

    public init(activeVendor: String? = nil, providers: [String: ProviderSettings] = [:]) {
        self.activeVendor = activeVendor
        self.providers = providers
    }

    static let formatVersion: Int64 = 1

    func toJSON() -> JSONValue {
        var providersObject = JSONObject()
        for vendor in providers.keys.sorted() {
            var settings = JSONObject()
            for key in providers[vendor]!.keys.sorted() { settings[key] = .string(providers[vendor]![key]!) }
            providersObject[vendor] = .object(settings)
        }
        return [
            "version": .int(Self.formatVersion),
            "active": activeVendor.map(JSONValue.string) ?? .null,
            "providers": .object(providersObject),
        ]
    }

    /// Reads the document; throws a one-line reason when its shape is wrong.
    static func fromJSON(_ json: JSONValue) throws -> Configuration {
        guard let root = json.objectValue else { throw ShapeError("the top level is not a JSON object") }
        if let version = root["version"], version.intValue != formatVersion {
            throw ShapeError("unsupported format version \(version.serialized()); this dstack reads version \(formatVersion)")
        }
        var configuration = Configuration()
        switch root["active"] {
        case nil, .null?: break
        case .string(let vendor)?: configuration.activeVendor = vendor
        default: throw ShapeError("\"active\" must be a vendor name or null")
        }
        if let providers = root["providers"] {
            guard let object = providers.objectValue else { throw ShapeError("\"providers\" must be an object") }
            for (vendor, value) in object.entries {
                guard let settingsObject = value.objectValue else {
                    throw ShapeError("the settings of \"\(vendor)\" must be an object")
                }
                var settings = ProviderSettings()
                for (key, setting) in settingsObject.entries {
                    guard let text = setting.stringValue else {
                        throw ShapeError("setting \"\(vendor).\(key)\" must be a string")
                    }
                    settings[key] = text
                }
                configuration.providers[vendor] = settings
            }
        }
        return configuration
    }

    struct ShapeError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
