import ArgumentParser
import DstackCLIKit
import DstackCore
import DstackServer
import Foundation

/// `dstack server admin-token [--reset]`: whether this home's admin.token opens the
/// admin account of the state, and with --reset a new one written there. For a server
/// whose home holds no token: a replica on its own home sharing a Postgres database.
struct AdminTokenCommand: DstackCommand {
    static let configuration = CommandConfiguration(
        commandName: "dstack server admin-token",
        abstract: "Check that DSTACK_HOME/admin.token opens the admin account; with --reset, give the admin a new token there.",
        usage: "dstack server admin-token [--reset] [--database-url URL]",
        discussion: """
        The token is never printed: --reset writes it to DSTACK_HOME/admin.token (mode \
        0600), where the CLI on this machine reads it. The admin's previous token stops \
        working, in every home that holds it: copy the new admin.token there, or give \
        those machines users of their own ('dstack users add').
        """
    )

    @Flag(help: "Give the admin a new token, written to DSTACK_HOME/admin.token.")
    var reset = false

    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("The PostgreSQL state (default: DSTACK_DATABASE_URL, else DSTACK_HOME/state.db).", valueName: "URL"))
    var databaseURL: String?

    func execute() async throws {
        let text = databaseURL ?? ProcessInfo.processInfo.environment["DSTACK_DATABASE_URL"]
        let url = try text.flatMap { $0.isEmpty ? nil : try DatabaseURL(parsing: $0) }
        let workspace = ServerContext.workspace(databaseURL: url)
        let users = UserDirectory(state: try workspace.state(), home: workspace.home)
        let file = UserDirectory.adminTokenFile(workspace.home).path
        if reset {
            try users.resetAdminToken()
            print("Wrote a new admin token to \(file) (mode 0600). The admin's previous token no longer opens anything; "
                  + "copy this file to the homes of other servers and machines that used it.")
            return
        }
        guard try users.adminTokenOpensAdmin() else {
            throw CLIError(try users.state.read({ try $0.user(named: UserDirectory.adminName) }) == nil
                           ? "the state has no admin user yet; 'dstack server' makes one and writes its token to \(file)"
                           : AdminTokenAdvice.elsewhere(home: workspace.home))
        }
        print("\(file) opens the admin account.")
    }
}
