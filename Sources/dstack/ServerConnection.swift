import DstackCore
import Foundation

/// The CLI works on the state directly; it only tells the server that something
/// changed, so the reconcile loop runs at once instead of at its next tick.
enum ServerConnection {
    /// `$DSTACK_SERVER_URL`, else the address the running server of this `DSTACK_HOME`
    /// wrote in `server.json` (https when it serves TLS), else the default.
    static var url: String {
        let value = ProcessInfo.processInfo.environment["DSTACK_SERVER_URL"] ?? ""
        if !value.isEmpty { return value }
        return running?.localURL ?? "http://127.0.0.1:3000"
    }

    static var running: ServerInfo? { ServerInfo.running(DstackHome.fromEnvironment()) }

    /// How a manual launch's instances reach the server and get the runner: as the
    /// running server's own launches do. With no server running, its would-be URL,
    /// which a cloud's instances cannot reach (the launch is refused and says why).
    static func delivery(_ workspace: Workspace) -> RunnerDelivery {
        if let running = ServerInfo.running(workspace.home) { return running.delivery }
        let binaries = (try? RunnerBinaries.load(from: RunnerBinaries.executableDirectory))?.byArchitecture.mapValues(\.sha256) ?? [:]
        return RunnerDelivery(advertiseURL: url, runnerBinaries: binaries)
    }

    /// A rule change or a new run makes the server reconcile now; with no server
    /// running, nothing is lost: it reads state when it starts.
    static func wake(warnIfUnreachable: Bool) {
        let url = self.url
        // The server's own certificate may be self-signed: its pin stands in for a CA.
        let pin = url.hasPrefix("https://") ? running?.delivery.serverPin : nil
        let client = CurlHTTPClient(options: .init(connectTimeout: 0.5, totalTimeout: 2, pinnedPublicKey: pin))
        let reached = (try? client.sendBlocking(HTTPRequest(method: "POST", url: url + RunnerAPI.wakePath, body: "")))
            .map { $0.status < 300 } ?? false
        if !reached && warnIfUnreachable {
            FileHandle.standardError.write(Data(
                "[dstack] the dstack server at \(url) is not reachable; the run starts once 'dstack server' runs\n".utf8))
        }
    }
}
