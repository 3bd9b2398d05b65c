import DstackCore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS

/// `dstack server`: the reconcile loop and the runner API in one process. It needs
/// nothing but the embedded state, and stops cleanly on SIGINT or SIGTERM.
public struct DstackHTTPServer {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 3000
        public var reconcileInterval: TimeInterval = 10
        public var reconciler = ReconcilerOptions()
        /// HTTPS with this certificate; nil: plain HTTP (loopback, or `--insecure-http`).
        public var tls: ServerCertificate?
        /// The runners this server hands out to the instances it launches.
        public var runnerBinaries = RunnerBinaries()

        public init() {}
    }

    public let workspace: Workspace
    public let options: Options
    /// One line a pass or event, for the server's output, stamped with the UTC time.
    public var log: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((ServerLog.line(line) + "\n").utf8))
    }

    public init(workspace: Workspace, options: Options) {
        self.workspace = workspace
        self.options = options
    }

    public func run() async throws {
        let signal = WakeSignal()
        let reconciler = Reconciler(workspace: workspace, options: options.reconciler)
        reconciler.onAssignment = { instanceID in signal.notify(instanceID) }
        let loop = ReconcileLoop(reconciler: reconciler, signal: signal, interval: options.reconcileInterval)
        let log = self.log
        loop.onPass = { result in
            switch result {
            case .success(let report): if let line = Self.describe(report) { log(line) }
            case .failure(let error): log("reconcile failed: \((error as? ProviderError)?.userMessage ?? String(describing: error))")
            }
        }
        let service = RunnerService(workspace: workspace, signal: signal, wakeReconciler: { loop.wake() })
        service.onEvent = log

        let router = Router()
        RunnerRoutes(service: service, wakeReconciler: { loop.wake() }).add(to: router)
        RunnerBinaryRoute(service: service, binaries: options.runnerBinaries).add(to: router)
        var logger = Logger(label: "dstack.server")
        logger.logLevel = .warning
        let scheme = options.tls == nil ? "http" : "https"
        let address = "\(scheme)://\(options.host):\(options.port)"
        let server: HTTPServerBuilder = try options.tls.map { try .tls(.http1(), tlsConfiguration: $0.tlsConfiguration()) } ?? .http1()
        let home = workspace.home
        let delivery = options.reconciler.delivery
        let host = options.host
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "dstack"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let localHost = AdvertiseURL.isLoopbackOrUnspecified(host) ? "127.0.0.1" : host
                let info = ServerInfo(pid: getpid(), localURL: "\(scheme)://\(localHost.contains(":") ? "[\(localHost)]" : localHost):\(port)",
                                      delivery: delivery)
                do { try info.write(home) } catch { log("could not write \(ServerInfo.file(home).path): \(error)") }
                log("dstack server listening on \(address)")
                log("instances are given \(delivery.advertiseURL)"
                    + (delivery.serverPin != nil ? " (self-signed certificate in \(ServerCertificate.directory(home).path), pinned in their user data)" : ""))
            },
            logger: logger)
        defer { ServerInfo.remove(home, pid: getpid()) }
        if let plugin = try? workspace.activeProvider().plugin, let reason = delivery.unreachableReason(plugin) {
            log("warning: \(plugin.displayName) \(reason)")
        }

        let loopTask = Task { await loop.run() }
        defer { loopTask.cancel() }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        log("dstack server stopped")
    }

    /// A line for a pass that did something; nil for a quiet one.
    static func describe(_ report: Reconciler.Report) -> String? {
        report.logSummary
    }
}

import Logging
