import Foundation

/// Where dstack keeps everything: `$DSTACK_HOME`, default `~/.dstack`.
public struct DstackHome: Sendable, Equatable {
    public var url: URL

    public init(url: URL) {
        self.url = url
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> DstackHome {
        if let explicit = environment["DSTACK_HOME"], !explicit.isEmpty {
            return DstackHome(url: URL(fileURLWithPath: explicit))
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return DstackHome(url: home.appendingPathComponent(".dstack"))
    }

    public var configFile: URL { url.appendingPathComponent("config.json") }
    public var stateFile: URL { url.appendingPathComponent("state.db") }
    public var path: String { url.path }

    /// Creates the directory (mode 0700) when missing and tightens it when it is looser.
    /// Throws `HomeError.notWritable` naming the directory when that cannot be done.
    public func prepare() throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw HomeError.notWritable(path: path, reason: "it is not a directory") }
        } else {
            do {
                try fm.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw HomeError.notWritable(path: path, reason: Self.reason(error))
            }
        }
        if chmod(path, 0o700) != 0 || access(path, W_OK | X_OK) != 0 {
            throw HomeError.notWritable(path: path, reason: String(cString: strerror(errno)))
        }
    }

    public static func reason(_ error: Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}

public enum HomeError: Error, Equatable, CustomStringConvertible {
    case notWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason):
            return "cannot write to the dstack home directory \(path): \(reason) (set DSTACK_HOME to a writable directory)"
        }
    }
}
