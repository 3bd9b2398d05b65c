import Foundation

/// The server's own artifact store, used when the vendor has no bucket (and always on
/// the local provider): `DSTACK_HOME/artifacts/RUN_ID/PATH`. An upload is written to
/// `artifacts/.incoming/` and renamed into place only once its size and SHA-256 check
/// out, so a file under its final name is always whole.
public struct ArtifactStore: Sendable {
    /// What `RunArtifactsRecord.location` says for files kept here.
    public static let location = "server"

    public let root: URL

    public init(home: DstackHome) {
        root = home.url.appendingPathComponent("artifacts")
    }

    /// The file's final place; nil for a run ID or path that could leave the store.
    public func path(runID: String, path: String) -> String? {
        guard Self.isSafeRunID(runID), ArtifactPath.isCanonical(path) else { return nil }
        return root.appendingPathComponent(runID).path + "/" + path
    }

    /// A fresh name for an upload in progress (the directory is made, 0700).
    public func incomingPath() throws -> String {
        let incoming = root.appendingPathComponent(".incoming")
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return incoming.path + "/upload-\(SecureRandom.hex(8))"
    }

    /// Moves a checked upload to its final place, replacing an earlier one (a retried
    /// upload whose first reply was lost). Its directories are made as needed.
    public func commit(incoming: String, to final: String) throws {
        let directory = (final as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard rename(incoming, final) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(incoming)
            throw ArtifactError.storage("cannot store \(final): \(reason)")
        }
    }

    /// The size of a stored file, or nil when it is not there (a regular file only).
    public func storedSize(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Run IDs are made by the server (`run-` and hex), but the check keeps a crafted
    /// one from naming `..` or `.incoming`.
    static func isSafeRunID(_ id: String) -> Bool {
        !id.isEmpty && !id.hasPrefix(".") && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// Everything artifacts refuse, each one sentence; the HTTP layers map each to a status.
public enum ArtifactError: Error, Equatable, CustomStringConvertible {
    case badRequest(String)
    case forbidden(String)
    case notFound(String)
    /// The artifacts exist but are not complete (or not uploaded yet): 409.
    case notComplete(String)
    case storage(String)

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .notComplete: return 409
        case .storage: return 500
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let m), .forbidden(let m), .notFound(let m), .notComplete(let m), .storage(let m): return m
        }
    }
}
