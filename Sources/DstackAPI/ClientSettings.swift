import DstackWire
import Foundation

/// The CLI's own settings, `DSTACK_HOME/client.json` (0600): the server and token that
/// `dstack login` saved. The CLI keeps nothing else; the state is the server's.
public struct ClientSettings: Codable, Sendable, Equatable {
    public var url: String
    public var token: String
    /// The SHA-256 pin of the server's self-signed certificate, when it has one.
    public var pin: String?

    public init(url: String, token: String, pin: String? = nil) {
        self.url = url
        self.token = token
        self.pin = pin
    }

    public static func file(_ home: DstackHome) -> URL { home.url.appendingPathComponent("client.json") }

    /// The saved settings; nil when there are none. A file that is not ours is an error.
    public static func load(_ home: DstackHome) throws -> ClientSettings? {
        let path = file(home).path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONValueDecoder().decode(ClientSettings.self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw ClientSettingsError("\(path) is not a dstack client settings file (\(error)); run 'dstack login' again or remove it")
        }
    }

    public func save(_ home: DstackHome) throws {
        try home.prepare()
        let text = try JSONValueEncoder.api.encode(self).serialized(pretty: true) + "\n"
        try AtomicFile.write(Array(text.utf8), to: Self.file(home), mode: 0o600)
    }
}

public struct ClientSettingsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What the CLI reads of a server running for its own `DSTACK_HOME`: `server.json`
/// (where it listens, its certificate pin) and `admin.token`.
public struct LocalServerRecord: Sendable, Equatable {
    public var pid: Int32
    public var localURL: String
    public var pin: String?

    public static func file(_ home: DstackHome) -> URL { home.url.appendingPathComponent("server.json") }
    public static func adminTokenFile(_ home: DstackHome) -> URL { home.url.appendingPathComponent("admin.token") }

    /// The record of a live server; nil when there is none or its process is gone.
    public static func running(_ home: DstackHome) -> LocalServerRecord? {
        guard let data = FileManager.default.contents(atPath: file(home).path),
              let json = try? JSONValue.parse(Array(data)),
              let pid = json["pid"]?.intValue, let url = json["local_url"]?.stringValue else { return nil }
        guard kill(Int32(pid), 0) == 0 || errno == EPERM else { return nil }
        return LocalServerRecord(pid: Int32(pid), localURL: url, pin: json["server_pin"]?.stringValue)
    }

    /// The local admin's token, which the server wrote at its first start.
    public static func adminToken(_ home: DstackHome) -> String? {
        guard let text = try? String(contentsOf: adminTokenFile(home), encoding: .utf8) else { return nil }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
}
