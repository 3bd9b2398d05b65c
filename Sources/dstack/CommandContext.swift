import DstackCore
import DstackPlugins
import Foundation

/// What every command needs: the workspace under $DSTACK_HOME with the built-in providers.
enum CommandContext {
    static func workspace() -> Workspace {
        let environment = ProcessInfo.processInfo.environment
        return Workspace(home: DstackHome.fromEnvironment(environment), registry: builtinRegistry, environment: environment)
    }
}

/// Writes to standard output and flushes, so piped output interleaves with prompts.
func say(_ line: String) {
    print(line)
    fflush(nil) // every stream: `stdout` itself is a global Swift 6 will not touch
}

func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// Lines up columns for people; `--json` is the format for programs.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    func render() -> String {
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
