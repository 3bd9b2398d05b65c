import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A test of the state that runs on both backends: `onEachBackend` hands its body a
/// fresh state location on SQLite (a new home's state.db), then on Postgres (a new
/// database in the process's throwaway PostgreSQL, `ThrowawayPostgres.shared()`).
class StateTestCase: XCTestCase {
    enum Backend: String, CaseIterable { case sqlite, postgres }

    /// Where one test's state lives; `open()` opens it as often as a test likes.
    struct Location {
        let backend: Backend
        let temp: TempHome
        let databaseURL: DatabaseURL?
        let server: ThrowawayPostgres?

        func open() throws -> StateStore {
            try StateStore(home: temp.home, databaseURL: databaseURL)
        }

        /// Runs SQL through a client independent of dstack's own (sqlite3 or psql).
        @discardableResult
        func sql(_ sql: String) throws -> String {
            if let server, let databaseURL { return try server.psql(sql, database: databaseURL.database) }
            return try Self.sqlite3(temp.home.stateFile.path, sql)
        }

        static func sqlite3(_ path: String, _ sql: String) throws -> String {
            let result = try runCommand("/usr/bin/sqlite3", [path, sql])
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Runs `body` once per backend, each time on empty state; an error names the backend.
    func onEachBackend(_ body: (Location) throws -> Void) throws {
        for backend in Backend.allCases {
            let location = try makeLocation(backend)
            defer { location.temp.cleanUp() }
            do {
                try body(location)
            } catch {
                XCTFail("on \(backend.rawValue): \(error)")
            }
        }
    }

    func makeLocation(_ backend: Backend) throws -> Location {
        let temp = TempHome()
        switch backend {
        case .sqlite:
            return Location(backend: .sqlite, temp: temp, databaseURL: nil, server: nil)
        case .postgres:
            let server = try ThrowawayPostgres.shared()
            return Location(backend: .postgres, temp: temp, databaseURL: try DatabaseURL(parsing: try server.makeDatabase()),
                            server: server)
        }
    }
}

/// The database URL the other state-backed tests (reconciler, provisioning, disks) use:
/// nil (state.db) unless DSTACK_TEST_STATE=postgres, which `make test` sets for a second
/// run of them on the throwaway PostgreSQL.
enum TestStateBackend {
    static func databaseURL() throws -> DatabaseURL? {
        guard ProcessInfo.processInfo.environment["DSTACK_TEST_STATE"] == "postgres" else { return nil }
        return try DatabaseURL(parsing: try ThrowawayPostgres.shared().makeDatabase())
    }
}
