import ArgumentParser
import DstackAPI
import DstackCLIKit
import DstackProject
import DstackWire
import Foundation

extension Dstack {
    struct Artifacts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List and download a run's artifacts.",
            usage: "dstack artifacts list RUN [--json] | dstack artifacts download RUN [--path P] [DIR]",
            subcommands: [List.self, Download.self]
        )

        struct List: DstackCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show a run's artifacts: paths, sizes and whether they are complete.",
                usage: "dstack artifacts list RUN [--json]"
            )

            @Argument(help: ArgumentHelp("The run's ID (or a unique prefix of it).", valueName: "RUN"))
            var run: String

            @Flag(help: "Print the manifest as JSON.")
            var json = false

            func execute() async throws {
                let client = try await ServerConnection.client()
                let list = try await client.get(APIPaths.runArtifacts(run), as: ArtifactList.self)
                if json {
                    say(try JSONValueEncoder.api.encode(list).serialized(.spaced))
                    return
                }
                guard list.state != "none" else {
                    say("\(list.run) declares no artifacts.")
                    return
                }
                let total = list.files.reduce(0) { $0 + $1.size }
                say("\(list.run): artifacts \(list.state)" + (list.reason.map { " (\($0))" } ?? "")
                    + ", \(plural(list.files.count, "file")), \(ByteSize.format(total))"
                    + (list.location.map { $0 == "server" ? " on the server" : " in \($0)" } ?? ""))
                guard !list.files.isEmpty else { return }
                var table = TextTable(header: ["PATH", "SIZE", "SHA256"])
                table.rows = list.files.map { [$0.path, ByteSize.format($0.size), $0.sha256] }
                say(table.render())
            }
        }

        struct Download: DstackCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download a run's artifacts into DIR (default: the current directory), checking every SHA-256.",
                usage: "dstack artifacts download RUN [--path P] [DIR]",
                discussion: """
                Only complete artifacts download. Each file arrives as FILE.dstack-partial and \
                takes its name once its SHA-256 matches the manifest; run the command again to \
                resume after an interruption. Files already there with the right SHA-256 are \
                kept. Nothing is written outside DIR.
                """
            )

            @Argument(help: ArgumentHelp("The run's ID (or a unique prefix of it).", valueName: "RUN"))
            var run: String

            @Argument(help: ArgumentHelp("Where to put the files.", valueName: "DIR"))
            var directory: String = "."

            @Option(name: .customLong("path"), help: ArgumentHelp("Only this file or directory of the artifacts.", valueName: "P"))
            var path: String?

            func validate() throws {
                if let path, let problem = ArtifactPath.problem(path) { throw ValidationError("--path: \(problem)") }
            }

            func execute() async throws {
                let client = try await ServerConnection.client()
                var query: [String: String] = [:]
                if let path { query["path"] = ArtifactPath.normalized(path) }
                let downloads = try await client.get(APIPaths.runArtifactDownloads(run), query: query, as: ArtifactDownloads.self)
                let downloader = try ArtifactDownloader(endpoint: client.endpoint, directory: directory,
                                                        showProgress: isatty(STDOUT_FILENO) == 1)
                var bytes = 0
                for file in downloads.files {
                    try downloader.download(file)
                    bytes += file.size
                }
                say("\(downloads.run): \(plural(downloads.files.count, "file")), \(ByteSize.format(bytes)) in \(downloader.root)")
            }
        }
    }
}

/// The ARTIFACTS column of `dstack ps`: `3 (1.2 MB)`, `incomplete`, `pending`, or `-`.
enum ArtifactColumn {
    static func text(_ summary: ArtifactSummary?) -> String {
        guard let summary else { return "-" }
        switch summary.state {
        case "complete": return "\(summary.count) (\(ByteSize.format(summary.size)))"
        default: return summary.state
        }
    }
}
