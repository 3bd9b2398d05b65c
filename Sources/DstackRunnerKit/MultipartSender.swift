import DstackWire
import Foundation

/// Sends the parts of one multipart upload, `concurrency` at a time, each streamed from
/// the file by libcurl (`pread` at the part's offset: no part is ever held in memory).
/// A part that fails is sent again on its own: after a backoff for 5xx and dropped
/// connections, with fresh URLs for an expired one (403), which one call to the server
/// signs for every part at once. A part may fail `maxFailures` times in a row before
/// the whole upload is given up.
final class MultipartSender: @unchecked Sendable { // `condition` guards every `var` below it
    typealias Refresh = () -> (ArtifactTransfer.TransferOutcome, RunnerAPI.UploadPlan?)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// What went out: the upload the ETags belong to, and each part's ETag.
    struct Sent {
        var uploadID: String
        var etags: [Int: String]
    }

    private let transfer: ArtifactTransfer
    private let fd: Int32
    private let size: Int64
    private let refresh: Refresh
    private let lifetime: Lifetime
    private let stopped: () -> Bool
    private let maxFailures: Int
    private let backoff: Backoff

    private let condition = NSCondition()
    private var plan: RunnerAPI.UploadPlan
    /// Bumped with each fresh plan: a 403 refreshes only the plan it was sent under.
    private var generation = 0
    private var refreshing = false
    private var pending: [Int]
    /// Part number → the upload it is being sent to.
    private var inFlight: [Int: String] = [:]
    private var etags: [Int: String] = [:]
    private var failures: [Int: Int] = [:]
    private var delays: [Int: Backoff] = [:]
    private var failure: String?

    init(transfer: ArtifactTransfer, fd: Int32, size: Int64, plan: RunnerAPI.UploadPlan, refresh: @escaping Refresh,
         lifetime: Lifetime, stopped: @escaping () -> Bool, maxFailures: Int, backoff: Backoff) {
        self.transfer = transfer
        self.fd = fd
        self.size = size
        self.plan = plan
        self.refresh = refresh
        self.lifetime = lifetime
        self.stopped = stopped
        self.maxFailures = maxFailures
        self.backoff = backoff
        pending = plan.parts.map(\.partNumber).sorted()
    }

    /// Sends every part on `concurrency` threads; returns once each has an ETag, or
    /// throws the reason the upload was given up.
    func send(concurrency: Int) throws -> Sent {
        if let problem = Self.problem(plan, size: size) { throw Failure(description: problem) }
        let workers = max(1, min(concurrency, pending.count))
        let finished = DispatchSemaphore(value: 0)
        for index in 0..<workers {
            let thread = Thread { [self] in
                work()
                finished.signal()
            }
            thread.name = "dstack-artifact-part-\(index + 1)"
            thread.start()
        }
        for _ in 0..<workers { finished.wait() }
        return try condition.withLock {
            if let failure { throw Failure(description: failure) }
            return Sent(uploadID: plan.uploadID ?? "", etags: etags)
        }
    }

    /// Why a plan cannot be followed: no part size, or parts that do not cover the file.
    static func problem(_ plan: RunnerAPI.UploadPlan, size: Int64) -> String? {
        guard plan.uploadID != nil else { return "the server's upload plan names no multipart upload" }
        guard plan.partSize > 0 else { return "the server's upload plan has no part size" }
        let count = Int((size + Int64(plan.partSize) - 1) / Int64(plan.partSize))
        guard plan.parts.map(\.partNumber).sorted() == Array(1...max(count, 1)) else {
            return "the server's upload plan does not have one URL for each of the file's \(count) parts"
        }
        return nil
    }

    // MARK: one worker

    /// One part to send, under the plan in force when it was taken.
    private struct Job {
        var number: Int
        var url: String
        var uploadID: String
        var generation: Int
        var offset: Int64
        var length: Int64
    }

    private func work() {
        while let job = nextJob() {
            var outcome = transfer.put(url: job.url, fd: fd, offset: job.offset, length: job.length)
            if case .ok(let reply) = outcome, (reply.header("ETag") ?? "").isEmpty { outcome = .retry("part \(job.number) got no ETag") }
            switch outcome {
            case .ok(let reply):
                sent(job.number, to: job.uploadID, etag: reply.header("ETag") ?? "")
            case .fail(let reason):
                give(up: reason, part: job.number)
            case .retry(let reason), .refresh(let reason):
                guard let delay = failed(job.number, reason) else { continue }
                if case .refresh = outcome { refreshPlan(sentUnder: job.generation) }
                _ = lifetime.sleep(delay)
                requeue(job.number)
            }
        }
    }

    /// The next part to send; nil when every part has its ETag or the upload was given up.
    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if failure == nil, stopped() || lifetime.isStopped {
                failure = "the run was stopped"
                condition.broadcast()
            }
            if failure != nil { return nil }
            if !pending.isEmpty, !refreshing {
                let number = pending.removeFirst()
                guard let url = plan.parts.first(where: { $0.partNumber == number })?.url else {
                    failure = "the server's upload plan has no URL for part \(number)"
                    condition.broadcast()
                    return nil
                }
                let uploadID = plan.uploadID ?? ""
                inFlight[number] = uploadID
                let offset = Int64(number - 1) * Int64(plan.partSize)
                return Job(number: number, url: url, uploadID: uploadID, generation: generation,
                           offset: offset, length: min(Int64(plan.partSize), size - offset))
            }
            if pending.isEmpty, inFlight.isEmpty { return nil }
            // Parts in flight may yet fail and come back, or fresh URLs may be on their way.
            _ = condition.wait(until: Date().addingTimeInterval(1))
        }
    }

    private func sent(_ number: Int, to uploadID: String, etag: String) {
        condition.withLock {
            inFlight[number] = nil
            failures[number] = 0
            // A part sent to an upload the server has since replaced counts for nothing.
            if uploadID == plan.uploadID { etags[number] = etag } else { pending.insert(number, at: 0) }
            condition.broadcast()
        }
    }

    /// Counts a failure of part `number`; the delay before it is sent again, or nil when
    /// that was one too many and the upload is given up.
    private func failed(_ number: Int, _ reason: String) -> TimeInterval? {
        condition.withLock {
            failures[number, default: 0] += 1
            guard failures[number]! < maxFailures else {
                if failure == nil { failure = "\(reason) (after \(failures[number]!) tries)" }
                inFlight[number] = nil
                condition.broadcast()
                return nil
            }
            var delay = delays[number] ?? backoff
            defer { delays[number] = delay }
            return delay.nextDelay()
        }
    }

    private func requeue(_ number: Int) {
        condition.withLock {
            inFlight[number] = nil
            pending.insert(number, at: 0)
            condition.broadcast()
        }
    }

    private func give(up reason: String, part number: Int) {
        condition.withLock {
            inFlight[number] = nil
            if failure == nil { failure = reason }
            condition.broadcast()
        }
    }

    /// Asks the server for fresh URLs, once for all the parts that found theirs expired
    /// under the same plan. The same upload goes on; should the server have begun
    /// another, every part is sent again.
    private func refreshPlan(sentUnder generation: Int) {
        condition.lock()
        guard generation == self.generation, !refreshing, failure == nil else {
            condition.unlock()
            return
        }
        refreshing = true
        condition.unlock()
        var delays = backoff
        var outcome: (ArtifactTransfer.TransferOutcome, RunnerAPI.UploadPlan?)
        var tries = 0
        while true {
            outcome = refresh()
            tries += 1
            guard case .retry = outcome.0, tries < maxFailures, !lifetime.isStopped else { break }
            _ = lifetime.sleep(delays.nextDelay())
        }
        condition.withLock {
            defer {
                refreshing = false
                condition.broadcast()
            }
            guard let fresh = outcome.1 else {
                switch outcome.0 {
                case .ok: failure = failure ?? "the server's reply named no upload plan"
                case .fail(let reason), .retry(let reason), .refresh(let reason):
                    failure = failure ?? "asking for fresh upload URLs: \(reason)"
                }
                return
            }
            if let problem = Self.problem(fresh, size: size) {
                failure = failure ?? problem
                return
            }
            if fresh.uploadID != plan.uploadID {
                etags = [:]
                pending = fresh.parts.map(\.partNumber).sorted().filter { inFlight[$0] == nil }
            }
            plan = fresh
            self.generation += 1
        }
    }
}
