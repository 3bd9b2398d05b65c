import DstackCore
import ServiceLifecycle

/// The reconcile loop as a service of the server's group. Graceful shutdown (SIGTERM,
/// SIGINT) lets the pass in flight finish, so the cloud calls it journaled complete and
/// are recorded, and then ends the loop; so does cancellation (the HTTP server failed to
/// start), without waiting out the loop's interval. Passes run on `BlockingExecutor`'s
/// reconciler threads: their state calls and any blocking provider call stay off Swift's
/// cooperative threads, and off the pool the API's state calls use.
struct ReconcileService: Service {
    let loop: ReconcileLoop

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await BlockingExecutor.run(on: .reconciler) { await loop.run() }
            } onCancel: {
                loop.stop()
            }
        } onGracefulShutdown: {
            loop.stop()
        }
    }
}
