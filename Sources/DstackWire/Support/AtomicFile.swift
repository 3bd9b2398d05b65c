import Foundation

/// Writes a file so that readers see the old content or the new, never a mix, and a
/// crash leaves the old file intact: temp file in the same directory (created 0600),
/// write, fsync, rename over the target, fsync the directory.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to url: URL, mode: mode_t = 0o600) throws {
        let directory = url.deletingLastPathComponent().path
        let temp = directory + "/.\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AtomicWriteError(path: url.path, reason: errnoText()) }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = errnoText()
                close(fd)
                throw AtomicWriteError(path: url.path, reason: reason)
            }
            offset += n
        }
        // fchmod as well: the umask may have narrowed or the caller may want other bits.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let reason = errnoText()
            close(fd)
            throw AtomicWriteError(path: url.path, reason: reason)
        }
        close(fd)
        guard rename(temp, url.path) == 0 else { throw AtomicWriteError(path: url.path, reason: errnoText()) }
        ok = true
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

public struct AtomicWriteError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "could not write \(path): \(reason)" }
}
