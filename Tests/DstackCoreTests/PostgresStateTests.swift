import DstackCore
import DstackTesting
import Foundation
import XCTest

/// What only the Postgres backend has: its URL, its failures as one sentence, and a
/// database that goes away and comes back.
final class PostgresStateTests: XCTestCase {
    func testADatabaseURLIsParsedAndShownWithoutItsPassword() throws {
        let url = try DatabaseURL(parsing: "postgresql://dstack:s3cret@db.example:6543/state")
        XCTAssertEqual(url, DatabaseURL(user: "dstack", password: "s3cret", host: "db.example", port: 6543, database: "state"))
        XCTAssertEqual(url.description, "postgresql://dstack:***@db.example:6543/state")
        XCTAssertEqual(try DatabaseURL(parsing: "postgres://u@h/d").port, 5432)
        XCTAssertEqual(try DatabaseURL(parsing: url.secretURLString), url)
    }

    func testABadDatabaseURLIsOneSentenceThatNeverShowsThePassword() {
        for text in ["mysql://u:s3cret@h/d", "postgresql://u:s3cret@h", "postgresql://:s3cret@h/d", "postgresql:///d",
                     "postgresql://u:s3cret@h:99999/d", "postgresql://u:s3cret@h/d?sslmode=sometimes",
                     "postgresql://u:s3cret@h/d?password=s3cret", "postgresql://u:s3cret@h/d?sslmode=disable&sslrootcert=/ca.pem",
                     "not a url"] {
            XCTAssertThrowsError(try DatabaseURL(parsing: text), text) { error in
                let message = "\(error)"
                XCTAssertFalse(message.contains("s3cret"), message)
                XCTAssertFalse(message.contains("\n"), message)
                XCTAssertTrue(message.hasPrefix("the database URL"), message)
            }
        }
    }

    func testTLSOptionsAreParsedAsLibpqReadsThemAndShownWithoutThePassword() throws {
        let full = try DatabaseURL(parsing: "postgresql://dstack:s3cret@db.example/state?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        XCTAssertEqual(full.sslMode, .verifyFull)
        XCTAssertEqual(full.sslRootCertificate, "/etc/ca.pem")
        XCTAssertEqual(full.description, "postgresql://dstack:***@db.example:5432/state?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        XCTAssertEqual(try DatabaseURL(parsing: full.secretURLString), full, "a child process is handed the same settings")
        XCTAssertEqual(try DatabaseURL(parsing: "postgresql://u@h/d").sslMode, .disable, "no sslmode: plain, as before")
        XCTAssertEqual(try DatabaseURL(parsing: "postgresql://u@h/d?sslmode=require").sslMode, .require)
        // libpq: a root certificate with require (or no mode) checks the chain.
        XCTAssertEqual(try DatabaseURL(parsing: "postgresql://u@h/d?sslmode=require&sslrootcert=/ca.pem").sslMode, .verifyCA)
        XCTAssertEqual(try DatabaseURL(parsing: "postgresql://u@h/d?sslrootcert=/ca.pem").sslMode, .verifyCA)
        XCTAssertEqual("\(DatabaseURLError.sslMode("sometimes"))",
                       "the database URL's sslmode 'sometimes' is not one of disable, prefer, require, verify-ca, verify-full")
    }

    func testAWrongPasswordIsOneSentenceWithoutThePassword() throws {
        let server = try ThrowawayPostgres.shared()
        var url = try DatabaseURL(parsing: try server.makeDatabase())
        url.password = "wrong-password-\(UUID().uuidString.prefix(6))"
        XCTAssertThrowsError(try StateStore(databaseURL: url)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("refused the user name or password"), message)
            XCTAssertFalse(message.contains(url.password ?? "?"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testAnUnreachableDatabaseIsOneSentence() throws {
        let url = DatabaseURL(user: "dstack", password: "s3cret", host: "127.0.0.1", port: try LocalPort.free(), database: "state")
        XCTAssertThrowsError(try StateStore(databaseURL: url)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("cannot reach the database"), message)
            XCTAssertFalse(message.contains("s3cret"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testADatabaseThatGoesAwayIsUnavailableAndServesAgainOnceBack() throws {
        let server = try ThrowawayPostgres() // its own: this test stops it
        defer { server.stop() }
        let state = try StateStore(databaseURL: try DatabaseURL(parsing: try server.makeDatabase()))
        _ = try state.write { try $0.setRule("m5.xlarge", max: 2) }
        server.pause()
        XCTAssertFalse(state.isReachable())
        XCTAssertThrowsError(try state.write { try $0.setRule("m5.xlarge", max: 3) }) { error in
            guard case StateError.unavailable? = error as? StateError else { return XCTFail("\(error)") }
        }
        try server.restart()
        // The pool retries with backoff (at most 5 s between tries).
        let deadline = Date().addingTimeInterval(30)
        while !state.isReachable() && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 2, "the acknowledged write is kept; the refused one is not")
        _ = try state.write { try $0.setRule("m5.xlarge", max: 3) }
        XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 3)
    }

    func testAfterARestartTheFirstRequestIsServedNotFailedOnAStaleConnection() throws {
        let server = try ThrowawayPostgres() // its own: this test stops it
        defer { server.stop() }
        let state = try StateStore(databaseURL: try DatabaseURL(parsing: try server.makeDatabase()))
        _ = try state.write { try $0.setRule("m5.xlarge", max: 2) }
        // Several pooled connections, idle when the database goes.
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            for _ in 0..<20 { _ = try? state.read { try $0.rule(for: "m5.xlarge") } }
        }
        server.pause()
        try server.restart()
        // Nothing asked meanwhile: every idle connection is dead, and none is handed out.
        XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 2)
        for max in 3...8 { _ = try state.write { try $0.setRule("m5.xlarge", max: max) } }
        XCTAssertEqual(try state.read { try $0.rule(for: "m5.xlarge")?.max }, 8)
    }
}
