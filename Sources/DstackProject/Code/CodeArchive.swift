import DstackProvider
import DstackWire
import Foundation

/// A deterministic gzipped tar of a file list: the same files with the same contents
/// and modes give the same bytes, whenever and wherever they are packed. Written in
/// process (TarWriter, GzipWriter): names in byte order, mtime 0, owner and group 0 with
/// no names, symlinks kept as symlinks, and no name or time in the gzip header.
enum CodeArchive {
    /// Packs `files` and writes the archive to `fd`, hashing it on the way (the hash
    /// overlaps the compression instead of reading the file again). Returns the hex
    /// SHA-256 and the size.
    static func write(_ files: CodeFiles, to fd: Int32) throws -> (sha256: String, size: Int) {
        let sink = ArchiveSink(fd: fd)
        try pack(files) { bytes in bytes.withUnsafeBytes { sink.take($0) } }
        return try sink.finish()
    }

    /// The archive in memory, for a client that sends it as one body.
    static func bytes(_ files: CodeFiles) throws -> [UInt8] {
        var archive: [UInt8] = []
        try pack(files) { archive += $0 }
        return archive
    }

    private static func pack(_ files: CodeFiles, to emit: @escaping ([UInt8]) throws -> Void) throws {
        let gzip = try GzipWriter(emit: emit)
        var tar = TarWriter(emit: { try gzip.write($0) })
        for file in files.files { try tar.add(path: file.path, root: files.root) }
        try tar.finish()
        try gzip.finish()
    }
}

/// Where the archive goes: hashed and written to the store's file as it is made.
// Sendable because `lock` guards every field (the archive is made on one thread today;
// the lock keeps it safe should that change).
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

/// A code archive packed in memory: what `dstack run` sends when the server lacks it.
/// The CLI needs no store of its own (nothing written to disk, nothing to fsync).
public struct PackedCodeArchive: Sendable {
    public var bytes: [UInt8]
    public var shipped: ShippedCode

    public init(_ files: CodeFiles) throws {
        bytes = try CodeArchive.bytes(files)
        shipped = ShippedCode(sha256: SHA256Digest.hex(of: bytes), size: bytes.count)
    }
}
