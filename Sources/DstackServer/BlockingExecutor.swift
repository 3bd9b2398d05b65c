import NIOPosix

/// `BlockingWork` for async code whose synchronous stretches block: the reconcile pass
/// (SQLite between its awaits on the cloud), a runner's registration and long poll.
/// Work started with `BlockingExecutor.run` prefers this executor, so each of its jobs
/// runs on NIO's thread pool and none occupies one of Swift's cooperative threads.
final class BlockingExecutor: TaskExecutor {
    static let shared = BlockingExecutor(pool: .singleton)

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

    /// Runs `body` (and the child tasks it starts) on this executor.
    static func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if #available(macOS 15.0, *) {
            return try await withTaskExecutorPreference(shared, operation: body)
        }
        return try await body()
    }
}
