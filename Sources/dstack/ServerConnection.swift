import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation

/// How the CLI finds its server and its token. In order:
/// 1. `$DSTACK_SERVER_URL` (with `$DSTACK_TOKEN`, else the token `dstack login` saved for
///    that URL, else this home's admin token when that URL is this home's server; and
///    `$DSTACK_SERVER_PIN` for a server with a self-signed certificate);
/// 2. what `dstack login` saved in `DSTACK_HOME/client.json`;
/// 3. the server of this `DSTACK_HOME`, started in the background when none answers,
///    with the admin token it wrote in `DSTACK_HOME/admin.token`.
enum ServerConnection {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var home: DstackHome { DstackHome.fromEnvironment(environment) }

    static func client(totalTimeout: TimeInterval = 120) async throws -> DstackAPIClient {
        if let endpoint = try configuredEndpoint() { return DstackAPIClient(endpoint: endpoint, totalTimeout: totalTimeout) }
        let home = self.home
        let envToken = environment["DSTACK_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        // A server.json whose process is alive was written once the server listened:
        // trusted without a health check of its own. Should it be stale (the server hung
        // or its pid was reused), the refused connection finds or starts the real one.
        guard let recorded = LocalServerRecord.running(home) else {
            let started = try await LocalServerStarter.ensureRunning(home)
            return DstackAPIClient(endpoint: localEndpoint(started, home: home, token: envToken), totalTimeout: totalTimeout)
        }
        return DstackAPIClient(endpoint: localEndpoint(recorded, home: home, token: envToken), totalTimeout: totalTimeout,
                               reconnect: { localEndpoint(try await LocalServerStarter.ensureRunning(home), home: home, token: envToken) })
    }

    private static func localEndpoint(_ record: LocalServerRecord, home: DstackHome, token: String?) -> ServerEndpointSettings {
        ServerEndpointSettings(url: trimmed(record.localURL), token: token ?? LocalServerRecord.adminToken(home), pin: record.pin)
    }

    /// The server `DSTACK_SERVER_URL` or `dstack login` names; nil for this home's own.
    private static func configuredEndpoint() throws -> ServerEndpointSettings? {
        let home = self.home
        let envToken = environment["DSTACK_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let envPin = environment["DSTACK_SERVER_PIN"].flatMap { $0.isEmpty ? nil : $0 }
        let saved = try ClientSettings.load(home)
        if let url = environment["DSTACK_SERVER_URL"].map(trimmed), !url.isEmpty {
            let local = LocalServerRecord.running(home)
            let isLocal = local.map { trimmed($0.localURL) == url } ?? false
            let token = envToken ?? (saved.map { trimmed($0.url) == url ? $0.token : nil } ?? nil)
                // This home's admin token goes only to a server on this machine: never to a
                // remote URL, which has its own users.
                ?? (isLocal || Self.isLoopback(url) ? LocalServerRecord.adminToken(home) : nil)
            let savedPin = saved.flatMap { trimmed($0.url) == url ? $0.pin : nil }
            return ServerEndpointSettings(url: url, token: token, pin: envPin ?? (isLocal ? local?.pin : nil) ?? savedPin)
        }
        if let saved {
            return ServerEndpointSettings(url: trimmed(saved.url), token: envToken ?? saved.token, pin: envPin ?? saved.pin)
        }
        return nil
    }

    /// http(s)://127.x.x.x, localhost or [::1]: a server on this machine.
    static func isLoopback(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host?.lowercased() else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }

    private static func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}
