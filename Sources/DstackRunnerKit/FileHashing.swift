import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file's SHA-256, read from an open descriptor 1 MiB at a time with `pread` (the
/// descriptor's offset is left alone, so transfers may read the same file meanwhile).
enum FileHashing {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Hashes `size` bytes from the start; `cancelled` is asked between reads.
    static func sha256(fd: Int32, size: Int64, cancelled: () -> Bool = { false }) throws -> String {
        let digest = SHA256Digest()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < size {
            if cancelled() { throw Failure(description: "hashing was cancelled") }
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(size - offset)), off_t(offset)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "it could not be read whole (it shrank while being read?)") }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            offset += Int64(n)
        }
        return digest.finalHex()
    }
}

/// The SHA-256 of a big file, computed on a thread of its own while its parts go out,
/// so the upload takes the longer of hashing and sending rather than their sum. The
/// hash reads the file in order, the parts read their own ranges: the same pages, which
/// the first reader leaves in the page cache for the other.
///
/// The descriptor must stay open until `result()` returned or `cancelAndWait()` did.
final class BackgroundHash: @unchecked Sendable { // `condition` guards `outcome` and `cancelled`
    private let condition = NSCondition()
    private var outcome: Result<String, Error>?
    private var cancelled = false

    init(fd: Int32, size: Int64) {
        let thread = Thread { [self] in
            let result = Result { try FileHashing.sha256(fd: fd, size: size) { self.condition.withLock { self.cancelled } } }
            condition.withLock {
                outcome = result
                condition.broadcast()
            }
        }
        thread.name = "dstack-artifact-hash"
        thread.start()
    }

    /// Waits for the hash.
    func result() throws -> String {
        condition.lock()
        defer { condition.unlock() }
        while outcome == nil { condition.wait() }
        return try outcome!.get()
    }

    /// Stops the hashing early and waits until it no longer reads the file.
    func cancelAndWait() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        while outcome == nil { condition.wait() }
    }
}
