import Foundation

/// What a running `dstack server` tells the CLIs of its `DSTACK_HOME`, in
/// `server.json` (0600): where to reach it from this machine, and how its instances
/// reach it and get their runner, so that a manual launch boots instances exactly as
/// the server's own do. Written at start, removed at a clean stop; a file left by a
/// dead server is ignored (its PID no longer runs).
public struct ServerInfo: Sendable, Equatable {
    public var pid: Int32
    /// The URL for CLIs on this machine (loopback when the server listens on all addresses).
    public var localURL: String
    public var delivery: RunnerDelivery

    public init(pid: Int32, localURL: String, delivery: RunnerDelivery) {
        self.pid = pid
        self.localURL = localURL
        self.delivery = delivery
    }

    public static func file(_ home: DstackHome) -> URL { home.url.appendingPathComponent("server.json") }

    public var json: JSONValue {
        var binaries = JSONObject()
        for (architecture, sha256) in delivery.runnerBinaries.sorted(by: { $0.key < $1.key }) { binaries[architecture] = .string(sha256) }
        return [
            "pid": .int(Int64(pid)),
            "local_url": .string(localURL),
            "advertise_url": .string(delivery.advertiseURL),
            "server_pin": delivery.serverPin.map(JSONValue.string) ?? .null,
            "runner_binaries": .object(binaries),
            "allow_loopback_advertise": .bool(delivery.allowLoopbackAdvertise),
        ]
    }

    public func write(_ home: DstackHome) throws {
        try AtomicFile.write(Array((json.serialized(pretty: true) + "\n").utf8), to: Self.file(home), mode: 0o600)
    }

    public static func remove(_ home: DstackHome, pid: Int32) {
        if (try? read(home))?.pid == pid { unlink(file(home).path) }
    }

    static func read(_ home: DstackHome) throws -> ServerInfo? {
        guard let data = FileManager.default.contents(atPath: file(home).path) else { return nil }
        let json = try JSONValue.parse(Array(data))
        guard let pid = json["pid"]?.intValue, let localURL = json["local_url"]?.stringValue,
              let advertise = json["advertise_url"]?.stringValue else { return nil }
        var binaries: [String: String] = [:]
        if case .object(let object)? = json["runner_binaries"] {
            for (architecture, value) in object.entries { if let sha = value.stringValue { binaries[architecture] = sha } }
        }
        return ServerInfo(pid: Int32(pid), localURL: localURL,
                          delivery: RunnerDelivery(advertiseURL: advertise, serverPin: json["server_pin"]?.stringValue,
                                                   runnerBinaries: binaries,
                                                   allowLoopbackAdvertise: json["allow_loopback_advertise"]?.boolValue ?? false))
    }
}
