import Foundation

/// Writes a tar stream the way `tar --format=gnu --sort=name --mtime=@0 --owner=0
/// --group=0 --numeric-owner --mode=u+rw,go-w --no-recursion` would for a file list:
/// regular files and symlinks only, no owner names, no times, so the same files give the
/// same bytes. Names past 100 bytes get GNU's `././@LongLink` entries, which every tar
/// on an instance reads. In process, because starting tar and gzip cost several
/// milliseconds of every `dstack run` in a project.
struct TarWriter {
    static let blockSize = 512
    /// GNU tar pads the archive to whole records of 20 blocks.
    static let recordSize = 20 * blockSize
    private static let chunkSize = 64 * 1024

    private let emit: ([UInt8]) throws -> Void
    private var written = 0

    init(emit: @escaping ([UInt8]) throws -> Void) {
        self.emit = emit
    }

    /// Adds `path` (relative, `/`-separated) from under `root`, as it is on disk now.
    mutating func add(path: String, root: String) throws {
        let full = root + "/" + path
        var info = stat()
        guard lstat(full, &info) == 0 else { throw Self.error("cannot read \(path): \(String(cString: strerror(errno)))") }
        // u+rw, go-w: the runner's user can read and replace what it unpacks.
        let mode = (Int(info.st_mode) & 0o7777 | 0o600) & ~0o022
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(full, &target, target.count - 1)
            guard length >= 0 else { throw Self.error("cannot read the link \(path): \(String(cString: strerror(errno)))") }
            let link = Array(target[0..<length].map { UInt8(bitPattern: $0) })
            try header(name: Array(path.utf8), link: link, mode: mode, size: 0, type: UInt8(ascii: "2"))
        case S_IFREG:
            let size = Int(info.st_size)
            try header(name: Array(path.utf8), link: [], mode: mode, size: size, type: UInt8(ascii: "0"))
            try contents(full, path: path, size: size)
        default:
            throw Self.error("\(path) is neither a file nor a symlink")
        }
    }

    /// The two zero blocks that end a tar, then padding to a whole record.
    mutating func finish() throws {
        var end = Self.recordSize - (written % Self.recordSize)
        if end < 2 * Self.blockSize { end += Self.recordSize }
        try put([UInt8](repeating: 0, count: end))
    }

    private mutating func header(name: [UInt8], link: [UInt8], mode: Int, size: Int, type: UInt8) throws {
        if name.count > 100 { try longName(name, type: UInt8(ascii: "L")) }
        if link.count > 100 { try longName(link, type: UInt8(ascii: "K")) }
        try put(Self.headerBlock(name: Array(name.prefix(100)), link: Array(link.prefix(100)), mode: mode, size: size, type: type))
    }

    /// GNU's long-name entry: a pseudo-file whose contents are the name and a NUL.
    private mutating func longName(_ name: [UInt8], type: UInt8) throws {
        let data = name + [0]
        try put(Self.headerBlock(name: Array("././@LongLink".utf8), link: [], mode: 0o644, size: data.count, type: type))
        try put(data + [UInt8](repeating: 0, count: Self.padding(data.count)))
    }

    private mutating func contents(_ full: String, path: String, size: Int) throws {
        let fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw Self.error("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var remaining = size
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        while remaining > 0 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min(remaining, Self.chunkSize)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                // The header already promised `size` bytes: a file that shrank mid-pack
                // would make a tar that lies, so the pack fails instead.
                throw Self.error(n < 0 ? "cannot read \(path): \(String(cString: strerror(errno)))" : "\(path) changed while it was packed")
            }
            try put(Array(buffer[0..<n]))
            remaining -= n
        }
        try put([UInt8](repeating: 0, count: Self.padding(size)))
    }

    private mutating func put(_ bytes: [UInt8]) throws {
        try emit(bytes)
        written += bytes.count
    }

    static func padding(_ size: Int) -> Int { (blockSize - size % blockSize) % blockSize }

    /// One 512-byte header in GNU's layout: owner and group 0 with no names, mtime 0.
    static func headerBlock(name: [UInt8], link: [UInt8], mode: Int, size: Int, type: UInt8) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        func field(_ offset: Int, _ bytes: [UInt8]) { block.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        func octal(_ offset: Int, width: Int, _ value: Int) {
            let digits = String(value, radix: 8)
            field(offset, Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0])
        }
        field(0, name)
        octal(100, width: 8, mode)
        octal(108, width: 8, 0) // uid
        octal(116, width: 8, 0) // gid
        octal(124, width: 12, size)
        octal(136, width: 12, 0) // mtime
        field(148, Array("        ".utf8)) // the checksum counts its own field as spaces
        block[156] = type
        field(157, link)
        field(257, Array("ustar  ".utf8) + [0]) // GNU's magic and version
        let checksum = block.reduce(0) { $0 + Int($1) }
        let digits = String(checksum, radix: 8)
        field(148, Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, UInt8(ascii: " ")])
        return block
    }

    private static func error(_ message: String) -> CodeShippingError { .archiving(message) }
}
