import DstackWire
import Foundation

/// Sends a run's output to the server in the order it was produced, on its own thread,
/// so a slow server never stalls reading the command's pipes (up to a memory bound,
/// beyond which the command itself waits on its full pipe). Every chunk is retried until
/// it lands; a `stop: true` reply is passed on.
public final class LogShipper: @unchecked Sendable {
    public static let maxQueuedBytes = 32 << 20
    /// Chunks still queued when the sender gets to them are merged up to this size.
    static let maxMergedBytes = 256 << 10

    private let send: (RunnerAPI.LogChunk) -> RunnerAPI.RunControl?
    private let onStop: () -> Void
    private let attempt: Int
    private let condition = NSCondition()
    private var queue: [(stream: RunnerAPI.LogChunk.Stream, bytes: [UInt8])] = []
    private var queuedBytes = 0
    private var closed = false
    private var finished = false

    /// `send` delivers one chunk (nil when it was refused for good); `onStop` runs when
    /// the server says the run should stop.
    public init(attempt: Int, send: @escaping (RunnerAPI.LogChunk) -> RunnerAPI.RunControl?, onStop: @escaping () -> Void) {
        self.attempt = attempt
        self.send = send
        self.onStop = onStop
        let thread = Thread { [self] in sendLoop() }
        thread.name = "dstack-runner logs"
        thread.start()
    }

    /// Queues bytes of one stream; they are sent as UTF-8 text (invalid bytes become U+FFFD).
    public func enqueue(_ stream: RunnerAPI.LogChunk.Stream, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        condition.lock()
        while queuedBytes > Self.maxQueuedBytes && !closed { condition.wait() }
        queue.append((stream, bytes))
        queuedBytes += bytes.count
        condition.broadcast()
        condition.unlock()
    }

    /// No more output comes; returns once everything queued has been sent.
    public func finish() {
        condition.lock()
        closed = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func sendLoop() {
        while let (stream, bytes) = next() {
            let chunk = RunnerAPI.LogChunk(attempt: attempt, stream: stream, text: String(decoding: bytes, as: UTF8.self))
            if send(chunk)?.stop == true { onStop() }
        }
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }

    /// The oldest chunk merged with the queued chunks of the same stream right behind it.
    private func next() -> (RunnerAPI.LogChunk.Stream, [UInt8])? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed { condition.wait() }
        guard !queue.isEmpty else { return nil }
        var (stream, bytes) = queue.removeFirst()
        while let following = queue.first, following.stream == stream, bytes.count + following.bytes.count <= Self.maxMergedBytes {
            bytes += following.bytes
            queue.removeFirst()
        }
        queuedBytes -= bytes.count
        condition.broadcast()
        return (stream, bytes)
    }
}
