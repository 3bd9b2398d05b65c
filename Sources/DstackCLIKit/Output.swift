import ArgumentParser
import Foundation

/// Writes to standard output and flushes, so piped output interleaves with prompts.
public func say(_ line: String) {
    print(line)
    fflush(nil) // every stream: `stdout` itself is a global Swift 6 will not touch
}

/// `dstack: MESSAGE` on standard error and the exit code: 1 the operation failed, 2 the
/// command line was wrong.
public func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("dstack: \(message)\n".utf8))
    exit(code)
}

public func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// Lines up columns for people; `--json` is the format for programs.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String], rows: [[String]] = []) {
        self.header = header
        self.rows = rows
    }

    public func render() -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// A failure in one sentence, for the user.
public struct CLIError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A leaf command. main.swift calls `execute()` itself: calling `run()` through an
/// `AsyncParsableCommand` existential resolved to the synchronous default (which only
/// prints help) with this toolchain.
public protocol DstackCommand: AsyncParsableCommand {
    func execute() async throws
}

extension DstackCommand {
    public mutating func run() async throws {
        try await execute()
    }
}

/// Parses `arguments` as `Root`'s command tree and runs the leaf, turning every error
/// into one line on standard error: `sentence` names the errors the caller knows.
public func runCommandLine<Root: AsyncParsableCommand>(_ root: Root.Type, _ arguments: [String],
                                                       sentence: (Error) -> String?) async -> Never {
    do {
        var command = try await Root.asyncParseAsRoot(arguments)
        if let leaf = command as? any DstackCommand {
            try await leaf.execute()
        } else {
            try command.run() // a group with no subcommand given: ArgumentParser shows its help
        }
        exit(0)
    } catch {
        if let message = sentence(error) { fail(message, code: 1) }
        let exitCode = Root.exitCode(for: error)
        if exitCode == .success {
            print(ArgparseHelp.restyle(Root.fullMessage(for: error)))
            exit(0)
        }
        if error is ExitCode { exit(exitCode.rawValue) }
        let message = ArgparseHelp.unbracket(Root.message(for: error))
        guard exitCode == .validationFailure else {
            // Not the command line's fault (e.g. the server's port is taken): the operation failed.
            fail(message.isEmpty ? String(describing: error) : message, code: 1)
        }
        fail(message.prefix(1).lowercased() + message.dropFirst() + " (see --help)", code: 2)
    }
}
