import DstackProvider
import DstackWire
import Foundation

/// The code store: `DSTACK_HOME/code/SHA256.tar.gz`, one file per distinct archive.
/// Content-addressed, so identical code is stored once; each file is written atomically
/// (temp file, fsync, rename) with mode 0600, and never changes once there.
public struct CodeStore: Sendable {
    public let directory: URL

    public init(home: DstackHome) {
        directory = home.url.appendingPathComponent("code")
    }

    /// Where the archive with this hash lives; nil for a name that is not a hash.
    public func path(for sha256: String) -> String? {
        ShippedCode.isValidHash(sha256) ? directory.appendingPathComponent("\(sha256).tar.gz").path : nil
    }

    /// Packs `files` deterministically and stores the archive unless an identical one is
    /// already there. Returns its hash and size.
    public func store(_ files: CodeFiles) throws -> ShippedCode {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CodeShippingError.storing("cannot create \(directory.path): \(DstackHome.reason(error))")
        }
        let temp = directory.appendingPathComponent(".pack-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp").path
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CodeShippingError.storing("cannot create \(temp): \(String(cString: strerror(errno)))") }
        var keep = false
        defer { if !keep { unlink(temp) } }
        let packed: (sha256: String, size: Int)
        do {
            packed = try CodeArchive.write(files, to: fd)
        } catch {
            close(fd)
            throw error
        }
        let stored = ShippedCode(sha256: packed.sha256, size: packed.size)
        let target = path(for: stored.sha256)!
        if access(target, F_OK) == 0 { // stored already: the same bytes by definition
            close(fd)
            return stored
        }
        // Mode 0600 and on disk before it gets its final name, so a crash never leaves a
        // truncated file under a hash.
        let sealed = fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard sealed else { throw CodeShippingError.storing("cannot sync \(temp): \(reason)") }
        guard rename(temp, target) == 0 else {
            throw CodeShippingError.storing("cannot move the archive to \(target): \(String(cString: strerror(errno)))")
        }
        keep = true
        let dirfd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return stored
    }

    /// Stores an archive that arrived whole (an upload to the API), under the hash its
    /// sender named, after checking the bytes hash to it. Written as `store` writes.
    public func store(archive bytes: [UInt8], sha256: String) throws {
        guard let target = path(for: sha256) else { throw CodeShippingError.storing("'\(sha256)' is not a SHA-256 in hex") }
        let actual = SHA256Digest.hex(of: bytes)
        guard actual == sha256 else {
            throw CodeShippingError.storing("the uploaded archive hashes to \(actual), not \(sha256)")
        }
        if access(target, F_OK) == 0 { return }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(bytes, to: URL(fileURLWithPath: target), mode: 0o600)
        } catch {
            throw CodeShippingError.storing("cannot write \(target): \(error)")
        }
    }
}
