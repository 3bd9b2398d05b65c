import ArgumentParser
import DstackAPI
import DstackCLIKit
import DstackProject
import DstackProvider
import DstackWire
import DstackPlugins
import Foundation

/// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
let arguments = Array(CommandLine.arguments.dropFirst())
let staticCommands = Set(Dstack.configuration.subcommands.map { $0._commandName } + ["help"])

/// One sentence for each error the CLI meets: the server's refusals arrive as sentences.
func sentence(for error: Error) -> String? {
    switch error {
    case let error as ProviderError: return error.userMessage
    case let error as CustomStringConvertible where error is HomeError || error is ConfigureError || error is CLIError
        || error is WorkflowFileError || error is APIClientError || error is ClientSettingsError
        || error is LocalServerStarter.StartFailure: return error.description
    default: return nil
    }
}

if arguments == ["--version"] {
    print(Dstack.versionLine)
    exit(0)
}

// `dstack server [start] ...` is the dstack-server program; `dstack server stop` is ours.
if arguments.first == "server", arguments.dropFirst().first != "stop" {
    ServerProgram.exec(Array(arguments.dropFirst(arguments.dropFirst().first == "start" ? 2 : 1)))
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
        fail("unknown vendor '\(first)'; dstack knows \(builtinRegistry.vendors.joined(separator: ", "))", code: 2)
    }
    do {
        try await VendorConfigure(plugin: plugin, arguments: Array(arguments.dropFirst(2))).run()
        exit(0)
    } catch {
        let code: Int32 = error is ConfigureError ? 2 : 1
        fail(sentence(for: error) ?? String(describing: error), code: code)
    }
}

await runCommandLine(Dstack.self, arguments, sentence: sentence(for:))
