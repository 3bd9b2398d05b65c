import DstackCLIKit
import DstackCore
import DstackPlugins
import Foundation

/// `dstack server` (the CLI runs this program for it): exit 0 on a clean stop, 1 when
/// the server cannot start or stops on an error, 2 for a bad command line.
enum ServerContext {
    /// The workspace under $DSTACK_HOME with the built-in providers.
    static func workspace() -> Workspace {
        let environment = ProcessInfo.processInfo.environment
        return Workspace(home: DstackHome.fromEnvironment(environment), registry: builtinRegistry, environment: environment)
    }
}

/// One sentence for each error the core and the providers report.
func sentence(for error: Error) -> String? {
    switch error {
    case let error as ProviderError: return error.userMessage
    case let error as CustomStringConvertible where error is ConfigError || error is StateError || error is HomeError
        || error is WorkspaceError || error is CLIError || error is RunnerDeliveryError: return error.description
    default: return nil
    }
}

await runCommandLine(ServerCommand.self, Array(CommandLine.arguments.dropFirst()), sentence: sentence(for:))
