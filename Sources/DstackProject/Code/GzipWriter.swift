import CZlib
import Foundation

/// gzip through zlib, as `gzip -n -1` makes it: no name and no time in the header, so
/// the same input gives the same bytes. Level 1: code is mostly text, which level 1
/// still shrinks about 3×, at several times the speed of the default level.
final class GzipWriter {
    private var stream = z_stream()
    private let emit: ([UInt8]) throws -> Void
    private var output = [UInt8](repeating: 0, count: 64 * 1024)
    private var finished = false

    init(level: Int32 = 1, emit: @escaping ([UInt8]) throws -> Void) throws {
        self.emit = emit
        // windowBits 15 + 16: a gzip wrapper with zlib's fixed header (mtime 0, no name).
        let status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw CodeShippingError.archiving("zlib could not start (\(status))") }
    }

    deinit { deflateEnd(&stream) }

    func write(_ bytes: [UInt8]) throws {
        var input = bytes
        try input.withUnsafeMutableBufferPointer { buffer in
            stream.next_in = buffer.baseAddress
            stream.avail_in = uInt(buffer.count)
            try drain(flush: Z_NO_FLUSH)
        }
    }

    func finish() throws {
        guard !finished else { return }
        finished = true
        stream.next_in = nil
        stream.avail_in = 0
        try drain(flush: Z_FINISH)
    }

    private func drain(flush: Int32) throws {
        repeat {
            let (status, produced): (Int32, Int) = output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, flush)
                return (status, out.count - Int(stream.avail_out))
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw CodeShippingError.archiving("zlib failed to compress (\(status))")
            }
            if produced > 0 { try emit(Array(output[0..<produced])) }
            if flush == Z_FINISH ? status == Z_STREAM_END : stream.avail_out != 0 { return }
        } while true
    }
}
