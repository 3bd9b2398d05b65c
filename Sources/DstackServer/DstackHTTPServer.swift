import DstackAPI
import DstackCore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle

/// `dstack server`: the reconcile loop and the runner API in one process, two services
/// of one `ServiceGroup`. It needs nothing but the embedded state. On SIGTERM or SIGINT
/// the reconcile pass in flight finishes (its cloud calls complete and are journaled),
/// then the HTTP server stops.
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
        /// `GET /metrics` without a token (`--metrics-public`).
        public var metricsPublic = false

        public init() {}
    }

    public let workspace: Workspace
    public let options: Options
    /// The server's log: one line a pass or event. The default writes each on stderr
    /// stamped with its UTC time (`ServerLogHandler`).
    public var logger: Logger
    /// For Hummingbird and the service group, whose own messages matter only when
    /// something goes wrong.
    public var frameworkLogger: Logger

    public init(workspace: Workspace, options: Options,
                logger: Logger = ServerLogHandler.logger(),
                frameworkLogger: Logger = ServerLogHandler.logger(label: "dstack.server.http", level: .warning)) {
        self.workspace = workspace
        self.options = options
        self.logger = logger
        self.frameworkLogger = frameworkLogger
    }

    public func run() async throws {
        let signal = WakeSignal()
        let reconciler = Reconciler(workspace: workspace, options: options.reconciler)
        reconciler.onAssignment = { instanceID in signal.notify(instanceID) }
        let loop = ReconcileLoop(reconciler: reconciler, signal: signal, interval: options.reconcileInterval)
        let logger = self.logger
        let log: @Sendable (String) -> Void = { logger.info("\($0)") }
        let warn: @Sendable (String) -> Void = { logger.warning("\($0)") }
        loop.onPass = { result in
            switch result {
            case .success(let report): if let line = Self.describe(report) { log(line) }
            case .failure(let error): warn("reconcile failed: \((error as? ProviderError)?.userMessage ?? String(describing: error))")
            }
        }
        let service = RunnerService(workspace: workspace, signal: signal, wakeReconciler: { loop.wake() })
        service.onEvent = log
        service.pollHeartbeatInterval = min(5, options.reconciler.heartbeatTimeout / 4)
        service.maxRetries = options.reconciler.maxRetries

        let router = Router()
        RunnerRoutes(service: service, wakeReconciler: { loop.wake() }).add(to: router)
        let artifacts = ArtifactService(workspace: workspace)
        RunnerArtifactRoutes(service: service, artifacts: artifacts).add(to: router)
        RunnerBinaryRoute(service: service, binaries: options.runnerBinaries).add(to: router)
        // Servers sharing a Postgres state: only the lease holder's loop reconciles, and
        // wake-ups (a run submitted, a run assigned) reach every server.
        let coordination = try workspace.state().coordination()
        loop.isLeader = { coordination.isLeader }
        let control = try ControlPlane(workspace: workspace, reconciler: reconciler, loop: loop, signal: signal, artifacts: artifacts,
                                       isLeader: { coordination.isLeader })
        if try control.users.ensureAdmin() == .elsewhere {
            warn(AdminTokenAdvice.elsewhere(home: workspace.home))
        }
        control.observers.attach(runnerService: service)
        if coordination.isShared {
            signal.relay = { coordination.publish($0) }
        }
        // Tries for the lease once the server listens: one that cannot (its port taken)
        // never leads, not even for a moment.
        let startCoordination: @Sendable () -> Void = {
            coordination.start(leadership: { leading in
                if coordination.isShared { log(leading ? "this server now leads the reconcile loop" : "this server no longer leads the reconcile loop") }
                if leading { loop.wake() }
            }, wake: { signal.notifyFromElsewhere($0) })
        }
        defer { coordination.stop() }
        APIRoutes(control: control, web: WebOptions(metricsPublic: options.metricsPublic, secureCookie: options.tls != nil)).add(to: router)
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
                do { try info.write(home) } catch { warn("could not write \(ServerInfo.file(home).path): \(error)") }
                log("dstack server listening on \(address)")
                log("instances are given \(delivery.advertiseURL)"
                    + (delivery.serverPin.map { " (self-signed certificate in \(ServerCertificate.directory(home).path), pinned in their user data; CLIs elsewhere: dstack login --pin \($0))" } ?? ""))
                startCoordination()
            },
            logger: frameworkLogger)
        defer { ServerInfo.remove(home, pid: getpid()) }
        if let plugin = try? workspace.activeProvider().plugin, let reason = delivery.unreachableReason(plugin) {
            warn("warning: \(plugin.displayName) \(reason)")
        }

        // Shut down in reverse order: the reconcile loop first (its pass in flight
        // finishes), then the HTTP server (its long polls answer at once).
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: ReconcileService(loop: loop))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: frameworkLogger))
        try await group.run()
        log("dstack server stopped")
    }

    /// A line for a pass that did something; nil for a quiet one.
    static func describe(_ report: Reconciler.Report) -> String? {
        report.logSummary
    }
}
