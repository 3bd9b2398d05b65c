import ArgumentParser
import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation

extension Dstack {
    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage who may use the dstack server (admins only).",
            usage: "dstack users {add NAME [--role admin|user] | list [--json] | remove NAME}",
            subcommands: [Add.self, List.self, Remove.self]
        )
    }

    /// Saves a server's URL and a token for this DSTACK_HOME's CLI (client.json, 0600).
    struct Login: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Use a dstack server elsewhere: save its URL and your token (from 'dstack users add') for this DSTACK_HOME.",
            usage: "dstack login --url URL --token TOKEN [--pin PIN]"
        )

        @Option(help: ArgumentHelp("The server's URL, e.g. https://dstack.example.com:3000.", valueName: "URL"))
        var url: String

        @Option(help: ArgumentHelp("Your token, as 'dstack users add' printed it.", valueName: "TOKEN"))
        var token: String

        @Option(help: ArgumentHelp("The server's certificate pin (sha256//...), when it serves a self-signed certificate: 'dstack server' prints it at start.", valueName: "PIN"))
        var pin: String?

        func validate() throws {
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else {
                throw ValidationError("--url must be an http:// or https:// URL, got '\(url)'")
            }
            if token.isEmpty || token.contains(where: { $0.isWhitespace }) {
                throw ValidationError("--token must be a token without spaces")
            }
            if let pin, !pin.hasPrefix("sha256//") || pin.count < 20 {
                throw ValidationError("--pin must be the pin 'dstack server' printed (sha256//...), got '\(pin)'")
            }
        }

        func execute() async throws {
            let endpoint = ServerEndpointSettings(url: url.hasSuffix("/") ? String(url.dropLast()) : url, token: token, pin: pin)
            // Checked before it is saved: a typo should not become the CLI's setting.
            let me = try await DstackAPIClient(endpoint: endpoint, totalTimeout: 15).get(APIPaths.me, as: UserInfo.self)
            let home = DstackHome.fromEnvironment()
            try ClientSettings(url: endpoint.url, token: token, pin: pin).save(home)
            say("Logged in to \(endpoint.url) as \(me.name) (\(me.role.rawValue)); saved in \(ClientSettings.file(home).path).")
        }
    }
}

extension Dstack.Users {
    struct Add: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user and print their token, once: it is not stored anywhere it could be shown again.",
            usage: "dstack users add NAME [--role admin|user]"
        )

        @Argument(help: ArgumentHelp("1 to 64 letters, digits, '.', '_' or '-'.", valueName: "NAME"))
        var name: String

        @Option(help: ArgumentHelp("admin: configures vendors, manages rules, instances and users, sees every run; user: submits runs and sees their own (default: user).", valueName: "ROLE"))
        var role = "user"

        func validate() throws {
            guard UserRole(rawValue: role) != nil else { throw ValidationError("--role must be admin or user, got '\(role)'") }
        }

        func execute() async throws {
            let reply = try await ServerConnection.client().post(
                APIPaths.users, NewUserRequest(name: name, role: UserRole(rawValue: role) ?? .user), as: NewUserReply.self)
            say("Added \(reply.user.role.rawValue) \(reply.user.name). Their token (shown only now):")
            say(reply.token)
        }
    }

    struct List: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the users: name, role, when added.",
            usage: "dstack users list [--json]"
        )

        @Flag(help: "Print a JSON array of users.")
        var json = false

        func execute() async throws {
            let users = try await ServerConnection.client().get(APIPaths.users, as: [UserInfo].self)
            if json {
                say(try JSONValueEncoder.api.encode(users).serialized(.spaced))
                return
            }
            let formatter = ISO8601DateFormatter()
            var table = TextTable(header: ["NAME", "ROLE", "ADDED"])
            table.rows = users.map { [$0.name, $0.role.rawValue, formatter.string(from: $0.createdAt)] }
            say(table.render())
        }
    }

    struct Remove: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a user; their token stops working at once. Their runs stay.",
            usage: "dstack users remove NAME"
        )

        @Argument(help: ArgumentHelp("The user's name.", valueName: "NAME"))
        var name: String

        func execute() async throws {
            let _: NoContent = try await ServerConnection.client().delete(APIPaths.user(name))
            say("Removed \(name).")
        }
    }
}
