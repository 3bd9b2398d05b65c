import DstackCore
import DstackTesting
import Foundation
import XCTest

/// Runner tokens and logs cross the network, so `dstack server` serves HTTPS whenever
/// it advertises a URL other machines reach: with the user's certificate, or with a
/// self-signed one kept in DSTACK_HOME whose public-key pin the runners check.
final class ServerTLSTests: CLITestCase {
    var server: ServerProcess?

    override func tearDown() {
        server?.stop(signal: SIGKILL)
        server = nil
        super.tearDown()
    }

    private func serverInfo() throws -> JSONValue {
        try JSONValue.parse(String(contentsOf: home.appendingPathComponent("server.json"), encoding: .utf8))
    }

    private func wake(_ url: String, pin: String?) -> Int? {
        let client = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 2, proxy: ProxySettings(), pinnedPublicKey: pin))
        return (try? client.sendBlocking(HTTPRequest(method: "POST", url: url + RunnerAPI.wakePath, body: "")))?.status
    }

    func testAnHTTPSAdvertiseURLServesASelfSignedCertificateThatRunnersReachThroughItsPin() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let port = try LocalPort.free()
        let url = "https://127.0.0.1:\(port)"
        let started = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s", "--advertise-url", url], port: port,
                                        environment: stateEnvironment)
        server = started
        try eventually("the server to write server.json; output: \(started.output)") {
            FileManager.default.fileExists(atPath: home.appendingPathComponent("server.json").path)
        }
        let info = try serverInfo()
        let pin = try XCTUnwrap(info["server_pin"]?.stringValue)
        XCTAssertEqual(info["local_url"]?.stringValue, url)
        try eventually("the server to answer HTTPS") { wake(url, pin: pin) == 204 }
        XCTAssertNil(wake(url, pin: "sha256//" + Data(repeating: 7, count: 32).base64EncodedString()), "a wrong pin is refused")
        XCTAssertNil(wake("http://127.0.0.1:\(port)", pin: nil), "no plain HTTP on the TLS port")
        XCTAssertTrue(started.output.contains("instances are given \(url) (self-signed certificate in"), started.output)

        for file in ["tls/server.key", "tls/server.crt"] {
            let mode = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent(file).path)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600, file)
        }

        // The CLI finds the server through server.json (https, pinned) and the runner
        // registers and works over TLS with the pin from its user data.
        let id = try dstack("run", "--detach", "--", "echo", "over tls").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try eventually("the run to finish over TLS; server: \(started.output)") { try status(id) == "done" }
        XCTAssertTrue(try ok("logs", id).contains("over tls"))
        let instance = try XCTUnwrap(run(id)?["instance_id"]?.stringValue)
        let userData = try String(contentsOf: home.appendingPathComponent("local/instances/\(instance)/user-data.sh"), encoding: .utf8)
        XCTAssertTrue(userData.contains("--server '\(url)' --server-pin '\(pin)'"), userData)

        // A restart keeps the certificate: instances launched before it hold its pin.
        started.stop()
        let again = try ServerProcess(home: home, arguments: ["--advertise-url", url], port: try LocalPort.free(),
                                      environment: stateEnvironment)
        server = again
        try eventually("the restarted server to write server.json") {
            (try? serverInfo())?["local_url"]?.stringValue?.hasSuffix(":\(again.port)") == true
        }
        XCTAssertEqual(try serverInfo()["server_pin"]?.stringValue, pin)
    }

    func testPlainHTTPToAnAddressOtherMachinesReachNeedsInsecureHTTP() throws {
        try ok("local", "configure")
        try fails(["server", "--advertise-url", "http://10.11.12.13:3000"], saying: "or pass --insecure-http")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("tls").path), "no certificate was made")
    }

    func testACLIElsewhereReachesASelfSignedServerThroughThePinItPrints() throws {
        let port = try LocalPort.free()
        let url = "https://127.0.0.1:\(port)"
        let started = try ServerProcess(home: home, arguments: ["--reconcile-interval", "1s", "--advertise-url", url], port: port,
                                        environment: stateEnvironment)
        server = started
        try eventually("the server to write server.json; output: \(started.output)") {
            (try? serverInfo())?["server_pin"]?.stringValue != nil
        }
        let pin = try XCTUnwrap(try serverInfo()["server_pin"]?.stringValue)
        try eventually("the server to print its pin") { started.output.contains("dstack login --pin \(pin)") }
        let token = try XCTUnwrap(try ok("users", "add", "erin").split(separator: "\n").last.map(String.init))

        let laptop = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-laptop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: laptop) }
        let elsewhere = ["DSTACK_HOME": laptop.path, "DSTACK_SERVER_URL": ""]
        let unpinned = try dstack(["login", "--url", url, "--token", token], environment: elsewhere)
        XCTAssertEqual(unpinned.status, 1, "a self-signed certificate is not trusted without its pin: \(unpinned)")
        XCTAssertTrue(unpinned.stderr.contains("did not answer"), unpinned.stderr)
        let pinned = try dstack(["login", "--url", url, "--token", token, "--pin", pin], environment: elsewhere)
        XCTAssertEqual(pinned.status, 0, "\(pinned)")
        let ps = try dstack(["ps"], environment: elsewhere)
        XCTAssertEqual(ps.status, 0, "the saved pin is used: \(ps)")
    }

    func testTLSFlagsAreCheckedBeforeTheServerListens() throws {
        try ok("local", "configure")
        stopBackgroundServer() // the flags of a second server are what this is about
        try fails(["server", "--tls-cert", "/nonexistent.pem"], saying: "--tls-cert needs --tls-key")
        try fails(["server", "--tls-key", "/nonexistent.pem"], saying: "--tls-key needs --tls-cert")
        try fails(["server", "--advertise-url", "ftp://x"], saying: "--advertise-url must be an http(s) URL with a host")
        let notACertificate = home.appendingPathComponent("bad.pem")
        try "not a certificate\n".write(to: notACertificate, atomically: true, encoding: .utf8)
        try fails(["server", "--tls-cert", notACertificate.path, "--tls-key", notACertificate.path],
                  saying: "\(notACertificate.path) is not a readable PEM certificate")
    }
}
