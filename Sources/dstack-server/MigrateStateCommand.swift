import ArgumentParser
import DstackCLIKit
import DstackCore
import Foundation

/// `dstack server migrate-state --from sqlite:PATH --to postgresql://...`: copies a
/// SQLite installation's state into an empty Postgres database, verified by counts.
struct MigrateStateCommand: DstackCommand {
    static let configuration = CommandConfiguration(
        commandName: "dstack server migrate-state",
        abstract: "Copy a SQLite state (rules, users, the launch journal, instances, runs and logs) into an empty PostgreSQL database.",
        usage: "dstack server migrate-state --from sqlite:PATH --to postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        discussion: """
        Stop the server of that state first. The target must be empty; the copy is one \
        transaction, checked by counting every table on both sides. Then start \
        'dstack server --database-url URL'.
        """
    )

    @Option(help: ArgumentHelp("The state to copy: sqlite:PATH (a state.db).", valueName: "SOURCE"))
    var from: String

    @Option(help: ArgumentHelp("The empty PostgreSQL database to copy into.", valueName: "URL"))
    var to: String

    func validate() throws {
        guard from.hasPrefix("sqlite:"), from.count > "sqlite:".count else {
            throw ValidationError("--from must be sqlite:PATH, got '\(from)'")
        }
    }

    func execute() async throws {
        let path = String(from.dropFirst("sqlite:".count))
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError("no state database at \(path)") }
        let target = try DatabaseURL(parsing: to)
        let source = try StateStore(path: path)
        let copied = try StateCopy.copy(from: source, to: try StateStore(databaseURL: target))
        let rows = copied.values.reduce(0, +)
        print("Copied \(rows) rows in \(copied.count) tables from \(path) to \(target); every count matches.")
        for table in copied.keys.sorted() { print("  \(table): \(copied[table] ?? 0)") }
    }
}
