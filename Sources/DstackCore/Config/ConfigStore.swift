import Foundation

/// Loads and saves config.json under the dstack home. A file that cannot be read or
/// parsed is reported with its path and is never overwritten.
public struct ConfigStore: Sendable {
    public var home: DstackHome

    public init(home: DstackHome) {
        self.home = home
    }

    public var path: String { home.configFile.path }

    /// The saved configuration, or an empty one when the file does not exist yet.
    public func load() throws -> Configuration {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return Configuration() }
        if isDirectory.boolValue { throw ConfigError.unreadable(path: path, reason: "it is a directory") }
        guard let data = fm.contents(atPath: path) else {
            throw ConfigError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Array(data))
        } catch let error as JSONParseError {
            throw ConfigError.corrupt(path: path, reason: "not valid JSON (\(error))")
        }
        do {
            return try Configuration.fromJSON(json)
        } catch let error as Configuration.ShapeError {
            throw ConfigError.corrupt(path: path, reason: error.reason)
        }
    }

    /// Writes atomically with mode 0600, in a 0700 directory.
    public func save(_ configuration: Configuration) throws {
        try home.prepare()
        let text = configuration.toJSON().serialized(.pretty) + "\n"
        do {
            try AtomicFile.write(Array(text.utf8), to: home.configFile, mode: 0o600)
        } catch let error as AtomicWriteError {
            throw ConfigError.unwritable(path: path, reason: error.reason)
        }
    }
}

public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read the configuration file \(path): \(reason)"
        case .corrupt(let path, let reason):
            return "the configuration file \(path) is corrupt: \(reason); fix or remove it (dstack will not overwrite it)"
        case .unwritable(let path, let reason):
            return "cannot write the configuration file \(path): \(reason)"
        }
    }
}
