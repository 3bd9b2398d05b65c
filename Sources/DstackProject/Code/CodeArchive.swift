import DstackProvider
import DstackWire
import Foundation

/// A deterministic gzipped tar of a file list: the same files with the same contents
/// and modes give the same bytes, whenever and wherever they are packed. GNU tar does
/// the packing (names in byte order, mtime 0, owner and group 0, no names for them;
/// symlinks stay symlinks) and `gzip -n` the compression (no name or time in its
/// header). Level 1: code is mostly text, which level 1 still shrinks about 3×, at
/// several times the speed of the default level.
enum CodeArchive {
    /// Packs `files` and writes the archive to `fd`, hashing it on the way (the hash
    /// overlaps the compression instead of reading the file again). Returns the hex
    /// SHA-256 and the size.
    static func write(_ files: CodeFiles, to fd: Int32, tar: String?) throws -> (sha256: String, size: Int) {
        guard let tar else { throw CodeShippingError.archiving("GNU tar is not installed (apt-get install tar)") }
        let list = files.files.map { Array($0.path.utf8) + [0] }.flatMap { $0 }
        let sink = ArchiveSink(fd: fd)
        let outcome = try ChildProcess.run(tar, [
            "--create", "--file=-", "--use-compress-program=gzip -n -1",
            "--format=gnu", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
            "--mode=u+rw,go-w",
            // Positional: they must come before the list they apply to.
            "--null", "--verbatim-files-from", "--no-recursion", "--files-from=-",
        ], in: files.root, stdin: list, environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"], stdoutSink: { sink.take($0) })
        guard outcome.status == 0 else {
            throw CodeShippingError.archiving(outcome.errorText.isEmpty ? "tar exited with \(outcome.status)" : outcome.errorText)
        }
        return try sink.finish()
    }
}

/// Where tar's output goes: hashed and written to the store's file as it arrives.
// Sendable because `lock` guards every field: tar's output is read on a reader thread,
// and the result is taken on the caller's after the reader has finished.
private final class ArchiveSink: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private let digest = SHA256Digest()
    private var size = 0
    private var writeError: Int32 = 0

    init(fd: Int32) { self.fd = fd }

    func take(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock {
            digest.update(bytes)
            size += bytes.count
            var offset = 0
            while offset < bytes.count && writeError == 0 {
                let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno != EINTR { writeError = errno }
                    continue
                }
                offset += n
            }
        }
    }

    func finish() throws -> (sha256: String, size: Int) {
        try lock.withLock {
            guard writeError == 0 else { throw CodeShippingError.storing(String(cString: strerror(writeError))) }
            return (digest.finalHex(), size)
        }
    }
}
