import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a command's stdout and stderr as the output comes and cuts it into chunks:
/// a stream's buffer is handed on once it holds 4 KiB, or 100 ms after its first
/// unsent byte arrived, whichever comes first, and at the end. A chunk never ends
/// inside a UTF-8 character, so the server gets whole text.
public final class OutputPump: @unchecked Sendable {
    public static let chunkBytes = 4096
    public static let maxDelay: TimeInterval = 0.1

    private struct Source {
        var fd: Int32
        var stream: RunnerAPI.LogChunk.Stream
        var pending: [UInt8] = []
        var firstUnsent: TimeInterval?
        var open = true
    }

    private var sources: [Source]
    private let emit: (RunnerAPI.LogChunk.Stream, [UInt8]) -> Void
    private let lock = NSLock()
    private var giveUpAt: TimeInterval?

    /// Takes ownership of both descriptors (closed when pumping ends).
    public init(stdout: Int32, stderr: Int32, emit: @escaping (RunnerAPI.LogChunk.Stream, [UInt8]) -> Void) {
        sources = [Source(fd: stdout, stream: .stdout), Source(fd: stderr, stream: .stderr)]
        self.emit = emit
    }

    /// After the command's group is gone the pipes reach end of file at once, unless a
    /// process escaped the group (setsid) and holds them: then stop `grace` from now.
    public func stopWaitingAfter(_ grace: TimeInterval) {
        lock.withLock { giveUpAt = ContactClock.now() + grace }
    }

    /// Pumps until both pipes are at end of file (or the grace ran out).
    public func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while sources.contains(where: { $0.open }) {
            let now = ContactClock.now()
            if let giveUpAt = lock.withLock({ giveUpAt }), now >= giveUpAt { break }
            var fds = sources.indices.filter { sources[$0].open }.map { pollfd(fd: sources[$0].fd, events: Int16(POLLIN), revents: 0) }
            let indices = sources.indices.filter { sources[$0].open }
            let ready = poll(&fds, nfds_t(fds.count), timeoutMilliseconds(now))
            if ready < 0 && errno != EINTR { break }
            for (slot, index) in indices.enumerated() where fds[slot].revents != 0 {
                let n = read(sources[index].fd, &buffer, buffer.count)
                if n > 0 {
                    if sources[index].pending.isEmpty { sources[index].firstUnsent = ContactClock.now() }
                    sources[index].pending += buffer[0..<n]
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    sources[index].open = false
                }
            }
            flushDue(final: false)
        }
        flushDue(final: true)
        for source in sources { close(source.fd) }
    }

    private func timeoutMilliseconds(_ now: TimeInterval) -> Int32 {
        var wake = sources.compactMap { $0.firstUnsent.map { $0 + Self.maxDelay } }.min() ?? now + 1
        if let giveUpAt = lock.withLock({ giveUpAt }) { wake = min(wake, giveUpAt) }
        return Int32(max(0, min(1000, ((wake - now) * 1000).rounded(.up))))
    }

    private func flushDue(final: Bool) {
        let now = ContactClock.now()
        for index in sources.indices where !sources[index].pending.isEmpty {
            let due = final || !sources[index].open || sources[index].pending.count >= Self.chunkBytes
                || now - (sources[index].firstUnsent ?? now) >= Self.maxDelay
            guard due else { continue }
            let pending = sources[index].pending
            let cut = final || !sources[index].open ? pending.count : Self.completeCharacterPrefix(pending)
            guard cut > 0 else {
                // Only half a character so far: give its rest another interval to arrive.
                sources[index].firstUnsent = now
                continue
            }
            emit(sources[index].stream, Array(pending[..<cut]))
            sources[index].pending = Array(pending[cut...])
            sources[index].firstUnsent = sources[index].pending.isEmpty ? nil : now
        }
    }

    /// The length of `bytes` without a trailing, incomplete UTF-8 sequence.
    static func completeCharacterPrefix(_ bytes: [UInt8]) -> Int {
        var start = bytes.count - 1
        var seen = 1
        // Walk back over at most three continuation bytes to the sequence's lead byte.
        while start >= 0, seen <= 4 {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                return length > seen ? start : bytes.count
            }
            start -= 1
            seen += 1
        }
        return bytes.count // not UTF-8 anyway: send as it is
    }
}
