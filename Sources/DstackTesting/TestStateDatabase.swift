import Foundation

/// Where the servers an end-to-end test starts keep their state: the home's state.db,
/// or, under `DSTACK_TEST_STATE=postgres` (make test's second run, POSTGRES_RERUN in
/// the Makefile), a new database of its own in the throwaway PostgreSQL. A test asks
/// once, in its setUp, and gives the same environment to every server it starts and to
/// every command that may start one in the background, so they all share one state.
public enum TestStateDatabase {
    /// Whether this test process runs its suites on Postgres.
    public static var isPostgres: Bool {
        ProcessInfo.processInfo.environment["DSTACK_TEST_STATE"] == "postgres"
    }

    /// A new empty database's URL under DSTACK_TEST_STATE=postgres; nil for state.db.
    public static func makeURL() throws -> String? {
        guard isPostgres else { return nil }
        return try ThrowawayPostgres.shared().makeDatabase()
    }

    /// What a server (and a CLI that may start one) needs in its environment for the
    /// state `url` names: DSTACK_DATABASE_URL, or nothing for state.db.
    public static func environment(_ url: String?) -> [String: String] {
        url.map { ["DSTACK_DATABASE_URL": $0] } ?? [:]
    }

    /// Under Postgres, the state.db some server left in `home` anyway (one that was not
    /// given DSTACK_DATABASE_URL, so the test ran on SQLite after all); nil otherwise.
    /// A harness checks it at the end of each test.
    public static func strayStateFile(home: URL, url: String?) -> String? {
        let file = home.appendingPathComponent("state.db").path
        guard url != nil, FileManager.default.fileExists(atPath: file) else { return nil }
        return "under DSTACK_TEST_STATE=postgres a server kept its state in \(file) instead of the test's database"
    }
}
