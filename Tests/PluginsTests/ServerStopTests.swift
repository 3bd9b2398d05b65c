import DstackTesting
import Foundation
import XCTest

/// The CLI smoke test leaves no background server behind: it stops the one that
/// `server.json` names, whichever process started it.
final class ServerStopTests: XCTestCase {
    func testTheServerThatServerJSONNamesGetsSIGTERM() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-stop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/bin/sleep")
        server.arguments = ["60"]
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        try Data(#"{"pid": \#(server.processIdentifier), "local_url": "http://127.0.0.1:1"}"#.utf8)
            .write(to: home.appendingPathComponent("server.json"))

        PluginCLISmokeTest.stopServer(of: home)

        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .uncaughtSignal)
        XCTAssertEqual(server.terminationStatus, SIGTERM)
    }

}
