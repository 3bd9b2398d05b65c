import DstackCore
import Foundation

/// The CLI works on the state directly; it only tells the server that something
/// changed, so the reconcile loop runs at once instead of at its next tick.
enum ServerConnection {
    static var url: String {
        let value = ProcessInfo.processInfo.environment["DSTACK_SERVER_URL"] ?? ""
        return value.isEmpty ? "http://127.0.0.1:3000" : value
    }

    /// A rule change or a new run makes the server reconcile now; with no server
    /// running, nothing is lost: it reads state when it starts.
    static func wake(warnIfUnreachable: Bool) {
        let client = CurlHTTPClient(options: .init(connectTimeout: 0.5, totalTimeout: 2))
        let reached = (try? client.sendBlocking(HTTPRequest(method: "POST", url: url + RunnerAPI.wakePath, body: "")))
            .map { $0.status < 300 } ?? false
        if !reached && warnIfUnreachable {
            FileHandle.standardError.write(Data(
                "[dstack] the dstack server at \(url) is not reachable; the run starts once 'dstack server' runs\n".utf8))
        }
    }
}
