import DstackCore
import DstackTesting
import Foundation
import XCTest

/// TLS to the state database (`?sslmode=...&sslrootcert=...` in the URL): a throwaway
/// PostgreSQL with `ssl=on` and a self-signed certificate for `localhost` made here with
/// openssl. The right root opens it under verify-full; a wrong one is one sentence and
/// exit 1, and neither shows the password.
final class PostgresTLSTests: CLITestCase {
    private var postgres: ThrowawayPostgres!
    private var certificates: URL!
    /// One PostgreSQL with TLS for the class (initdb takes seconds); XCTest runs its
    /// tests one after another on one thread, which is what guards it.
    nonisolated(unsafe) private static var withTLS: (postgres: ThrowawayPostgres, certificates: URL)?

    /// The class's PostgreSQL with TLS on (its own: the shared one stays plain), and the
    /// certificates: `server` (what it serves) and `stranger` (a root that did not sign it).
    private func startPostgresWithTLS() throws {
        if let made = Self.withTLS {
            (postgres, certificates) = made
            return
        }
        postgres = try ThrowawayPostgres()
        certificates = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-pg-tls-\(UUID().uuidString)")
        Self.withTLS = (postgres, certificates)
        try FileManager.default.createDirectory(at: certificates, withIntermediateDirectories: true)
        try selfSigned("server", subjectAltName: "DNS:localhost")
        try selfSigned("stranger", subjectAltName: "DNS:localhost")
        try postgres.enableTLS(certificate: file("server.crt"), key: file("server.key"))
    }

    override class func tearDown() {
        if let made = withTLS {
            made.postgres.stop()
            try? FileManager.default.removeItem(at: made.certificates)
        }
        withTLS = nil
        super.tearDown()
    }

    private func file(_ name: String) -> String { certificates.appendingPathComponent(name).path }

    /// A self-signed P-256 certificate and its key, valid for a day.
    private func selfSigned(_ name: String, subjectAltName: String) throws {
        let result = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=dstack test \(name)", "-addext", "subjectAltName=\(subjectAltName)",
            "-keyout", file("\(name).key"), "-out", file("\(name).crt"),
        ])
        XCTAssertEqual(result.status, 0, result.description)
    }

    /// A new database's URL with `options`, by the name the certificate holds (or not).
    private func databaseURL(_ options: String, host: String = "localhost") throws -> String {
        try postgres.makeDatabase().replacingOccurrences(of: "@127.0.0.1:", with: "@\(host):") + "?" + options
    }

    func testVerifyFullWithTheRightRootCertificateKeepsTheStateOverTLS() throws {
        try startPostgresWithTLS()
        let url = try databaseURL("sslmode=verify-full&sslrootcert=\(file("server.crt"))")
        commandEnvironment["DSTACK_DATABASE_URL"] = url
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        let server = try startServer()
        let id = try submit("--", "echo", "over tls to postgres", server: server)
        try eventually("the run to finish") { try status(id) == "done" }
        XCTAssertTrue(try ok("logs", id).contains("over tls to postgres"))

        // Every session the server holds to its database is encrypted (Postgres's own view).
        let name = try DatabaseURL(parsing: url).database
        let sessions = try postgres.psql("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '\(name)'")
        XCTAssertFalse(sessions.isEmpty, "the server holds sessions to its database")
        XCTAssertEqual(Set(sessions.split(separator: "\n")), ["t"], sessions)
        XCTAssertFalse(server.output.contains(postgres.password), "the password never reaches the log")
    }

    func testAWrongRootCertificateIsOneSentenceAndExitOne() throws {
        try startPostgresWithTLS()
        let url = try databaseURL("sslmode=verify-full&sslrootcert=\(file("stranger.crt"))")
        let result = try dstack(["server"], environment: ["DSTACK_DATABASE_URL": url])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.description)
        XCTAssertTrue(result.stderr.hasPrefix("dstack: ") && result.stderr.contains("TLS certificate is not signed by the certificates in sslrootcert \(file("stranger.crt"))"),
                      result.description)
        XCTAssertFalse(result.stderr.contains(postgres.password) || result.stdout.contains(postgres.password), result.description)
    }

    func testTLSSettingsThatCannotWorkAreOneSentenceAndExitOne() throws {
        try startPostgresWithTLS()
        let plain = try ThrowawayPostgres.shared() // no TLS there
        let cases = [
            (plain.url(database: "postgres") + "?sslmode=require", "does not offer TLS, which sslmode=require asks for"),
            (try databaseURL("sslmode=verify-full&sslrootcert=/nonexistent/root.crt"),
             "sslrootcert /nonexistent/root.crt is not a readable PEM certificate file"),
            (try databaseURL("sslmode=sometimes"), "sslmode 'sometimes' is not one of disable, prefer, require, verify-ca, verify-full"),
        ]
        for (url, saying) in cases {
            let result = try dstack(["server", "--database-url", url])
            XCTAssertEqual(result.status, 1, result.description)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.description)
            XCTAssertTrue(result.stderr.hasPrefix("dstack: ") && result.stderr.contains(saying), "\(saying): \(result)")
            XCTAssertFalse(result.stderr.contains(postgres.password) || result.stderr.contains(plain.password), result.description)
        }
    }

    func testRequireEncryptsWithoutCheckingTheCertificate() throws {
        try startPostgresWithTLS()
        let url = try databaseURL("sslmode=require")
        commandEnvironment["DSTACK_DATABASE_URL"] = url
        XCTAssertEqual(try runs(), [], "the background server opened its state over TLS")
        let name = try DatabaseURL(parsing: url).database
        XCTAssertEqual(Set(try postgres.psql("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '\(name)'")
                            .split(separator: "\n")), ["t"])
    }

    func testVerifyFullChecksTheHostNameAndVerifyCAOnlyTheSignature() throws {
        try startPostgresWithTLS()
        // The certificate names localhost only; 127.0.0.1 is the same host by another name.
        let root = "sslrootcert=\(file("server.crt"))"
        let full = try dstack(["server", "--database-url", try databaseURL("sslmode=verify-full&" + root, host: "127.0.0.1")])
        XCTAssertEqual(full.status, 1, full.description)
        XCTAssertEqual(full.stderr.split(separator: "\n").count, 1, full.description)
        XCTAssertTrue(full.stderr.contains("the database's TLS certificate does not name the host connected to"), full.description)

        commandEnvironment["DSTACK_DATABASE_URL"] = try databaseURL("sslmode=verify-ca&" + root, host: "127.0.0.1")
        XCTAssertEqual(try runs(), [], "verify-ca trusts the signature whatever the name")
    }
}
