import DstackCLIKit
import DstackCore
import DstackPlugins
import Foundation

/// `dstack server` (the CLI runs this program for it): exit 0 on a clean stop, 1 when
/// the server cannot start or stops on an error, 2 for a bad command line.
enum ServerContext {
    /// The workspace under $DSTACK_HOME with the built-in providers.
    static func workspace(databaseURL: DatabaseURL? = nil) -> Workspace {
        let environment = ProcessInfo.processInfo.environment
        return Workspace(home: DstackHome.fromEnvironment(environment), registry: builtinRegistry, environment: environment,
                         databaseURL: databaseURL)
    }
}

/// One sentence for each error the core and the providers report.
func sentence(for error: Error) -> String? {
    switch error {
    case let error as ProviderError: return error.userMessage
    case let error as CustomStringConvertible where error is ConfigError || error is StateError || error is HomeError
        || error is WorkspaceError || error is CLIError || error is DatabaseURLError || error is StateCopyError || error is UserError || error is RunnerDeliveryError: return error.description
    default: return nil
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "migrate-state" {
    await runCommandLine(MigrateStateCommand.self, Array(arguments.dropFirst()), sentence: sentence(for:))
}
if arguments.first == "admin-token" {
    await runCommandLine(AdminTokenCommand.self, Array(arguments.dropFirst()), sentence: sentence(for:))
}
await runCommandLine(ServerCommand.self, arguments, sentence: sentence(for:))
