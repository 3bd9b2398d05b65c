import NIOPosix

/// `BlockingWork` for async code whose synchronous stretches block: the reconcile pass
/// (SQLite between its awaits on the cloud), a runner's registration and long poll.
/// Work started with `BlockingExecutor.run` prefers this executor, so each of its jobs
/// runs on NIO's thread pool and none occupies one of Swift's cooperative threads.
final class BlockingExecutor: TaskExecutor {
    static let shared = BlockingExecutor(pool: .singleton)
    /// The reconcile loop's own threads. A pass holds a thread for its synchronous
    /// stretches (on Postgres, reading a long queue is many milliseconds of waiting on the
    /// network); on the shared pool (as many threads as cores) every API request's state
    /// call on the leader queued behind it. Passes never overlap: two threads are plenty.
    /// NIO names them "TP-#n" (the shared pool's are "SGLTN-TP-#n").
    static let reconciler: BlockingExecutor = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return BlockingExecutor(pool: pool) // lives as long as the process, as the shared pool does
    }()

    private let pool: NIOThreadPool

    init(pool: NIOThreadPool) {
        self.pool = pool
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        // The job runs even on a pool that is shutting down: a job never run is a task
        // that never finishes.
        pool.submit { _ in job.runSynchronously(on: executor) }
    }

    /// Runs `body` (and the child tasks it starts) on `executor`.
    static func run<T: Sendable>(on executor: BlockingExecutor = shared, _ body: @Sendable () async throws -> T) async throws -> T {
        if #available(macOS 15.0, *) {
            return try await withTaskExecutorPreference(executor, operation: body)
        }
        return try await body()
    }
}
