import DstackProvider
import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local provider's files under `$DSTACK_HOME/local/`: one directory per instance
/// (record, user data, log, the runner's own state) and a lock that serialises launches.
struct InstanceStore {
    static let recordFile = "instance.json"
    static let userDataFile = "user-data.sh"
    static let logFile = "runner.log"

    /// `$DSTACK_HOME/local/instances`
    let root: String
    /// `$DSTACK_HOME/local/removing`: where a directory goes, in one rename, before it is
    /// deleted, so that nobody reading `root` sees an instance half deleted.
    let removingRoot: String
    /// Held while a launch checks its idempotency token and spawns, so two processes
    /// (the CLI and the server) asking with the same token never both launch.
    let lockPath: String

    init(home: URL) {
        let local = home.appendingPathComponent("local").path
        root = local + "/instances"
        removingRoot = local + "/removing"
        lockPath = local + "/launch.lock"
    }

    func directory(of id: String) -> String { "\(root)/\(id)" }
    func path(_ file: String, of id: String) -> String { "\(directory(of: id))/\(file)" }

    func prepare() throws {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ProviderError.cloud(code: "LocalIOError", detail: "cannot create \(root): \(error.localizedDescription)")
        }
    }

    /// A new, empty instance directory with a fresh ID.
    func makeInstanceDirectory() throws -> String {
        for _ in 0..<16 {
            let id = LocalInstanceID.random()
            if mkdir(directory(of: id), 0o700) == 0 { return id }
            guard errno == EEXIST else { throw localIOError("cannot create", directory(of: id)) }
        }
        throw ProviderError.cloud(code: "LocalIOError", detail: "no free instance ID under \(root)")
    }

    func write(_ record: InstanceRecord) throws {
        try replace(path(Self.recordFile, of: record.id), with: record.json.serialized(pretty: true) + "\n")
    }

    func writeUserData(_ userData: String, for id: String) throws -> String {
        let file = path(Self.userDataFile, of: id)
        try replace(file, with: userData, mode: 0o700)
        return file
    }

    /// Nil when the instance is unknown or its record is unreadable.
    func record(_ id: String, timestamps: ISO8601DateFormatter = InstanceRecord.timestamp) -> InstanceRecord? {
        guard LocalInstanceID.isValid(id),
              let text = try? String(contentsOfFile: path(Self.recordFile, of: id), encoding: .utf8),
              let json = try? JSONValue.parse(text),
              let record = InstanceRecord(json: json, timestamps: timestamps), record.id == id
        else { return nil }
        return record
    }

    /// Every readable record; a corrupt or half-written one is skipped, never fatal.
    func allRecords() -> [InstanceRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let timestamps = InstanceRecord.timestamp // one formatter for the whole list
        return names.sorted().compactMap { record($0, timestamps: timestamps) }
    }

    func exists(_ id: String) -> Bool {
        LocalInstanceID.isValid(id) && FileManager.default.fileExists(atPath: directory(of: id))
    }

    /// Takes the instance's directory out of `root` in one rename, then deletes it: a
    /// list (or a look at the directory) sees the whole instance or none of it, never a
    /// directory whose record is gone and whose files are still going.
    func remove(_ id: String) {
        guard LocalInstanceID.isValid(id) else { return }
        try? FileManager.default.createDirectory(atPath: removingRoot, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let doomed = "\(removingRoot)/\(id).\(UInt32.random(in: .min ... .max))"
        guard rename(directory(of: id), doomed) == 0 else {
            // Gone already (ENOENT), or no rename here: delete in place as before.
            if errno != ENOENT { try? FileManager.default.removeItem(atPath: directory(of: id)) }
            return
        }
        try? FileManager.default.removeItem(atPath: doomed)
    }

    /// What a launch that died midway left (call it holding the launch lock): instance
    /// directories with no record, since a launch writes the record right after it makes
    /// the directory and before it starts anything, so no process can belong to one; and
    /// whatever a removal killed halfway left in `removingRoot`. Returns the IDs removed.
    @discardableResult
    func removeLaunchDebris() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let debris = names.filter { LocalInstanceID.isValid($0) && !FileManager.default.fileExists(atPath: path(Self.recordFile, of: $0)) }
        debris.forEach(remove)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: removingRoot)) ?? [] {
            try? FileManager.default.removeItem(atPath: "\(removingRoot)/\(name)")
        }
        return debris.sorted()
    }

    func withLaunchLock<T>(_ body: () throws -> T) throws -> T {
        try prepare()
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw localIOError("cannot open", lockPath) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw localIOError("cannot lock", lockPath) }
        }
        return try body()
    }
}

extension InstanceStore {
    /// The core's atomic write (temp file, fsync, rename), reporting as a provider.
    fileprivate func replace(_ path: String, with text: String, mode: mode_t = 0o644) throws {
        do {
            try AtomicFile.write(Array(text.utf8), to: URL(fileURLWithPath: path), mode: mode)
        } catch let error as AtomicWriteError {
            throw ProviderError.cloud(code: "LocalIOError", detail: error.description)
        }
    }
}

/// A failed file-system call, with the path and errno text, as the one error type
/// providers report.
func localIOError(_ what: String, _ path: String, _ code: Int32 = errno) -> ProviderError {
    .cloud(code: "LocalIOError", detail: "\(what) \(path): \(String(cString: strerror(code)))")
}
