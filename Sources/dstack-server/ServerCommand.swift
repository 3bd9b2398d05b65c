import ArgumentParser
import DstackCLIKit
import DstackCore
import DstackPlugins
import DstackServer
import Foundation

/// `dstack server`: the one process that opens the state and calls the cloud. The CLI
/// (`dstack`, which links neither) runs this program for `dstack server [start] ...`.
struct ServerCommand: DstackCommand {
    static let configuration = CommandConfiguration(
        commandName: "dstack server",
        abstract: "Run the dstack server in the foreground: the API the CLI uses, the reconcile loop, the runner API, and the runner binary for instances.",
        usage: "dstack server [--host HOST] [--port PORT] [--advertise-url URL] [--tls-cert FILE --tls-key FILE] [--insecure-http] [--metrics-public] "
            + "[--idle-timeout D] [--reconcile-interval D] [--max-retries N] [--max-provisioning-attempts N] [--database-url URL]",
        discussion: """
        Durations accept 30s, 5m and 1h; a bare number means seconds. Stops cleanly on \
        SIGINT or SIGTERM. At its first start it creates the admin user and writes its \
        token to DSTACK_HOME/admin.token (mode 0600), which the CLI on this machine uses. \
        'dstack server stop' stops the server of this DSTACK_HOME; with no server running, \
        any CLI command starts one in the background. With --database-url (or \
        DSTACK_DATABASE_URL) the state is in that PostgreSQL database instead of \
        DSTACK_HOME/state.db, and several servers may share it; a server on a home of \
        its own then writes no admin.token ('dstack server admin-token --reset' gives the \
        admin a new one there). The URL takes ?sslmode=disable|prefer|require|verify-ca|verify-full \
        and &sslrootcert=FILE for TLS to the database.
        """
    )

    @Option(help: ArgumentHelp("The address to listen on.", valueName: "HOST"))
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: ArgumentHelp("The port to listen on.", valueName: "PORT"))
    var port = "3000"

    @Option(name: .customLong("idle-timeout"), parsing: .unconditional, help: ArgumentHelp("Terminate instances idle this long.", valueName: "D"))
    var idleTimeout = "5m"

    @Option(name: .customLong("reconcile-interval"), parsing: .unconditional, help: ArgumentHelp("Reconcile at least this often.", valueName: "D"))
    var reconcileInterval = "10s"

    @Option(name: .customLong("max-retries"), parsing: .unconditional, help: ArgumentHelp("Retry an interrupted run this many times.", valueName: "N"))
    var maxRetries = "2"

    @Option(name: .customLong("sweep-grace"), parsing: .unconditional,
            help: ArgumentHelp("Terminate instances the cloud lists as ours but state does not know once this old.",
                               valueName: "D"))
    var sweepGrace = "2m"

    @Option(name: .customLong("provisioning-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Give up on instances whose runner has not registered after this long.", valueName: "D"))
    var provisioningTimeout = "15m"

    @Option(name: .customLong("fulfillment-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Cancel a spot request the cloud holds unfulfilled (no capacity, ...) after this long and try the next zone or type; 0: at once.",
                               valueName: "D"))
    var fulfillmentTimeout = "2m"

    @Option(name: .customLong("max-provisioning-attempts"), parsing: .unconditional,
            help: ArgumentHelp("Fail a run after this many launches for it whose runners never registered.",
                               valueName: "N"))
    var maxProvisioningAttempts = "3"

    @Option(name: .customLong("advertise-url"),
            help: ArgumentHelp("The URL instances reach this server at (default: https://HOST:PORT, or http:// on loopback). "
                + "A cloud's instances need an address they can reach: dstack refuses to launch them with a loopback one.",
                               valueName: "URL"))
    var advertiseURL: String?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Serve HTTPS with this PEM certificate (chain).", valueName: "FILE"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Flag(name: .customLong("insecure-http"),
          help: "Serve plain http even though instances reach the server over the network (tokens and logs unencrypted).")
    var insecureHTTP = false

    @Flag(name: .customLong("allow-loopback-advertise"),
          help: "Launch cloud instances even with a loopback --advertise-url: only for runners started on this machine, as tests do.")
    var allowLoopbackAdvertise = false

    @Flag(name: .customLong("metrics-public"),
          help: "Serve GET /metrics without a token (by default it needs an admin's), for a Prometheus that holds none.")
    var metricsPublic = false

    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("Keep the state in this PostgreSQL database, postgresql://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=verify-full&sslrootcert=FILE] "
                + "(default: DSTACK_DATABASE_URL, else DSTACK_HOME/state.db).", valueName: "URL"))
    var databaseURL: String?

    /// --database-url, else DSTACK_DATABASE_URL; nil: the home's state.db. A URL that does
    /// not parse is one sentence (exit 1) that never shows its password.
    func database() throws -> DatabaseURL? {
        let text = databaseURL ?? ProcessInfo.processInfo.environment["DSTACK_DATABASE_URL"]
        guard let text, !text.isEmpty else { return nil }
        return try DatabaseURL(parsing: text)
    }

    func validate() throws {
        _ = try options()
    }

    func options() throws -> DstackHTTPServerOptionsBuilder {
        guard let port = Int(port), (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, got '\(port)'") }
        guard let idle = DurationText.seconds(idleTimeout) else {
            throw ValidationError("--idle-timeout must be a duration such as 30s, 5m or 1h, got '\(idleTimeout)'")
        }
        guard let interval = DurationText.seconds(reconcileInterval), interval > 0 else {
            throw ValidationError("--reconcile-interval must be a duration above 0 such as 10s, got '\(reconcileInterval)'")
        }
        guard let retries = Int(maxRetries), retries >= 0 else {
            throw ValidationError("--max-retries must be a whole number of 0 or more, got '\(maxRetries)'")
        }
        guard let sweep = DurationText.seconds(sweepGrace) else {
            throw ValidationError("--sweep-grace must be a duration such as 30s, 5m or 1h, got '\(sweepGrace)'")
        }
        guard let provisioning = DurationText.seconds(provisioningTimeout), provisioning > 0 else {
            throw ValidationError("--provisioning-timeout must be a duration above 0 such as 15m, got '\(provisioningTimeout)'")
        }
        guard maxProvisioningAttempts.allSatisfy({ $0.isASCII && $0.isNumber }), let attempts = Int(maxProvisioningAttempts),
              attempts >= 1 else {
            throw ValidationError("--max-provisioning-attempts must be a whole number of 1 or more, got '\(maxProvisioningAttempts)'")
        }
        guard let fulfillment = DurationText.seconds(fulfillmentTimeout) else {
            throw ValidationError("--fulfillment-timeout must be a duration such as 0, 30s or 2m, got '\(fulfillmentTimeout)'")
        }
        let endpoint: ServerEndpoint
        do {
            endpoint = try ServerEndpoint.resolve(host: host, port: port, advertiseURL: advertiseURL, tlsCertificate: tlsCertificate,
                                                  tlsKey: tlsKey, insecureHTTP: insecureHTTP)
        } catch let error as EndpointError {
            throw ValidationError(error.description)
        }
        return DstackHTTPServerOptionsBuilder(host: host, port: port, idleTimeout: idle, interval: interval,
                                              maxRetries: retries, sweepGrace: sweep, provisioningTimeout: provisioning,
                                              maxProvisioningAttempts: attempts,
                                              endpoint: endpoint, allowLoopbackAdvertise: allowLoopbackAdvertise,
                                              metricsPublic: metricsPublic,
                                              fulfillmentTimeout: fulfillment)
    }

    func execute() async throws {
        let workspace = ServerContext.workspace(databaseURL: try database())
        _ = try workspace.state() // a broken state stops the server before it listens
        _ = try workspace.configuration()
        let options = try options()
        // One server per home guards state.db. A Postgres state is guarded by the
        // database itself (one leader reconciles), so several servers may share a home.
        let lock = workspace.databaseURL == nil ? try ServerLock.acquire(home: workspace.home, port: options.port) : nil
        defer { withExtendedLifetime(lock) {} }
        let built = try options.build(home: workspace.home)
        do {
            try await DstackHTTPServer(workspace: workspace, options: built).run()
        } catch let error as StateError {
            throw error
        } catch where ServerStartFailure.isAddressInUse(error) {
            throw CLIError("port \(options.port) on \(options.host) is in use")
        } catch {
            throw CLIError("the server on \(options.host):\(options.port) stopped: \(error)")
        }
    }
}

struct DstackHTTPServerOptionsBuilder {
    var host: String
    var port: Int
    var idleTimeout: TimeInterval
    var interval: TimeInterval
    var maxRetries: Int
    var sweepGrace: TimeInterval
    var provisioningTimeout: TimeInterval
    var maxProvisioningAttempts: Int
    var endpoint: ServerEndpoint
    var allowLoopbackAdvertise: Bool
    var metricsPublic = false
    var fulfillmentTimeout: TimeInterval = 120

    /// Makes (or checks) the certificate and reads the runner binaries next to this
    /// executable: what the instances will be handed.
    func build(home: DstackHome) throws -> DstackHTTPServer.Options {
        var options = DstackHTTPServer.Options()
        options.host = host
        options.port = port
        options.reconcileInterval = interval
        options.metricsPublic = metricsPublic
        options.reconciler.idleTimeout = idleTimeout
        options.reconciler.maxRetries = maxRetries
        options.reconciler.sweepGrace = sweepGrace
        options.reconciler.provisioningTimeout = provisioningTimeout
        options.reconciler.maxProvisioningAttempts = maxProvisioningAttempts
        options.reconciler.fulfillmentTimeout = fulfillmentTimeout
        do {
            options.tls = try endpoint.serverCertificate(home: home)
            options.runnerBinaries = try RunnerBinaries.load(from: RunnerBinaries.executableDirectory)
        } catch let error as CertificateError {
            throw CLIError(error.description)
        } catch let error as FileDigestError {
            throw CLIError(error.description)
        }
        options.reconciler.delivery = RunnerDelivery(
            advertiseURL: endpoint.advertiseURL, serverPin: options.tls?.pin,
            runnerBinaries: options.runnerBinaries.byArchitecture.mapValues(\.sha256),
            allowLoopbackAdvertise: allowLoopbackAdvertise)
        return options
    }
}
