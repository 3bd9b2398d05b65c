import DstackWire
/// The routes of the `/api/v1` API that the CLI, the web page and scripts use. The
/// runner API (`RunnerAPI`) is a separate set of routes with its own tokens.
/// `Sources/DstackServer/Resources/openapi.json` describes every route listed here.
public enum APIPaths {
    public static let prefix = "/api/v1"
    public static let health = prefix + "/health"
    public static let openAPI = prefix + "/openapi.json"
    public static let me = prefix + "/me"
    public static let users = prefix + "/users"
    public static func user(_ name: String) -> String { users + "/" + escaped(name) }
    public static let vendors = prefix + "/vendors"
    public static func vendor(_ name: String) -> String { vendors + "/" + escaped(name) }
    public static let autoscale = prefix + "/autoscale"
    public static let rules = autoscale + "/rules"
    public static func rule(_ instanceType: String) -> String { rules + "/" + escaped(instanceType) }
    public static let disable = autoscale + "/disable"
    public static let enable = autoscale + "/enable"
    public static let runs = prefix + "/runs"
    public static func run(_ id: String) -> String { runs + "/" + escaped(id) }
    public static func runLogs(_ id: String) -> String { run(id) + "/logs" }
    public static func stopRun(_ id: String) -> String { run(id) + "/stop" }
    public static func runArtifacts(_ id: String) -> String { run(id) + "/artifacts" }
    public static func runArtifactDownloads(_ id: String) -> String { run(id) + "/artifacts/downloads" }
    public static func runArtifactFile(_ id: String) -> String { run(id) + "/artifacts/file" }
    public static let code = prefix + "/code"
    public static func codeArchive(_ sha256: String) -> String { code + "/" + escaped(sha256) }
    public static let instances = prefix + "/instances"
    public static let instanceRequests = instances + "/requests"
    public static let terminateInstances = instances + "/terminate"

    /// What `POST /api/v1/runs` answers when the code archive it names is not stored yet
    /// (428 Precondition Required): the client uploads it and submits again.
    public static let codeMissingStatus = 428

    /// Percent-encodes a path segment: names come from users.
    public static func escaped(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            let c = Character(UnicodeScalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension JSONValueEncoder {
    /// The API's encoder: snake_case keys, and a nil written as null, so that every key
    /// of a documented shape is always there.
    public static var api: JSONValueEncoder {
        var encoder = JSONValueEncoder()
        encoder.nilAsNull = true
        return encoder
    }
}
