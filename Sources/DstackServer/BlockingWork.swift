import NIOPosix
/// Runs blocking work (SQLite, libcurl's blocking calls) on NIO's thread pool, never on
/// Swift's cooperative pool, whose few threads every async task shares.
enum BlockingWork {
    static func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
