import ArgumentParser
import DstackAPI
import DstackCore
import DstackPlugins
import Foundation

/// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
let arguments = Array(CommandLine.arguments.dropFirst())
let staticCommands = Set(Dstack.configuration.subcommands.map { $0._commandName } + ["help"])

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("dstack: \(message)\n".utf8))
    exit(code)
}

/// One sentence for each error the core and the providers report.
func sentence(for error: Error) -> String? {
    switch error {
    case let error as ProviderError: return error.userMessage
    case let error as CustomStringConvertible where error is ConfigError || error is StateError || error is HomeError
        || error is WorkspaceError || error is ConfigureError || error is LaunchError || error is CLIError
        || error is WorkflowFileError || error is RunnerDeliveryError || error is APIClientError
        || error is ClientSettingsError || error is LocalServerStarter.StartFailure: return error.description
    case let error as HTTPError: return "could not reach the cloud: \(error.description)"
    default: return nil
    }
}

if arguments == ["--version"] {
    print(Dstack.versionLine)
    exit(0)
}

// `dstack <vendor> configure` comes from the registry, not from a static subcommand.
if let first = arguments.first, !first.hasPrefix("-"), !staticCommands.contains(first) {
    guard arguments.count >= 2, arguments[1] == "configure" else {
        if builtinRegistry.plugin(named: first) != nil {
            fail("usage: dstack \(first) configure [options]; see 'dstack \(first) configure --help'", code: 2)
        }
        fail("unknown command '\(first)'; see 'dstack --help'", code: 2)
    }
    guard let plugin = builtinRegistry.plugin(named: first) else {
        fail(WorkspaceError.unknownVendor(first, known: builtinRegistry.vendors).description, code: 2)
    }
    do {
        try await VendorConfigure(plugin: plugin, arguments: Array(arguments.dropFirst(2))).run()
        exit(0)
    } catch {
        let code: Int32 = error is ConfigureError ? 2 : 1
        fail(sentence(for: error) ?? String(describing: error), code: code)
    }
}

do {
    var command = try await Dstack.asyncParseAsRoot(arguments)
    if let leaf = command as? any DstackCommand {
        try await leaf.execute()
    } else {
        try command.run() // a group with no subcommand given: ArgumentParser shows its help
    }
} catch {
    if let message = sentence(for: error) { fail(message, code: 1) }
    let exitCode = Dstack.exitCode(for: error)
    if exitCode == .success {
        print(ArgparseHelp.restyle(Dstack.fullMessage(for: error)))
        exit(0)
    }
    if error is ExitCode { exit(exitCode.rawValue) }
    let message = ArgparseHelp.unbracket(Dstack.message(for: error))
    guard exitCode == .validationFailure else {
        // Not the command line's fault (e.g. the server's port is taken): the operation failed.
        fail(message.isEmpty ? String(describing: error) : message, code: 1)
    }
    fail(message.prefix(1).lowercased() + message.dropFirst() + " (see --help)", code: 2)
}
