import ArgumentParser
import DstackAPI
import DstackCLIKit
import DstackProject
import DstackProvider
import DstackWire
import Foundation

extension Dstack {
    struct Ps: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "List runs: ID, workflow, who submitted it, status, instance, age, cost so far (spot price of the time it held instances; - when unknown), artifacts (count and size). A user sees their own runs; an admin sees every run.",
            usage: "dstack ps [--all] [--json]"
        )

        @Flag(name: .shortAndLong, help: "Show every run, not only the latest 20.")
        var all = false

        @Flag(help: "Print a JSON array of runs.")
        var json = false

        func execute() async throws {
            let client = try await ServerConnection.client()
            let runs = try await client.get(APIPaths.runs, query: all ? ["all": "true"] : [:], as: [RunInfo].self)
            let now = Date()
            if json {
                say(try JSONValueEncoder.api.encode(runs).serialized(.spaced))
                return
            }
            if runs.isEmpty {
                say("No runs. Submit one with: dstack run WORKFLOW, or dstack run -- CMD ARGS...")
                return
            }
            var table = TextTable(header: ["RUN", "WORKFLOW", "USER", "STATUS", "INSTANCE", "AGE", "COST", "ARTIFACTS", "REASON"])
            table.rows = runs.map { run in
                [run.id, run.workflow ?? "-", run.user ?? "-", run.status, run.instanceId ?? "-",
                 DurationText.format(now.timeIntervalSince(run.submittedAt)), CostColumn.text(run.costDollars),
                 ArtifactColumn.text(run.artifacts), run.reason ?? Self.interruptionNote(run) ?? ""]
            }
            say(table.render())
        }

        /// What became of a run the cloud interrupted, once its reason no longer says.
        static func interruptionNote(_ run: RunInfo) -> String? {
            guard let signal = run.interruptedBy, let count = run.interruptions, count > 0 else { return nil }
            return "interrupted \(count == 1 ? "once" : "\(count) times"), last by \(signal)"
        }
    }

    struct Logs: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a run's output, every attempt of it.",
            usage: "dstack logs RUN [--follow]"
        )

        @Argument(help: ArgumentHelp("The run's ID (or a unique prefix of it).", valueName: "RUN"))
        var run: String

        @Flag(name: .shortAndLong, help: "Keep printing output until the run ends.")
        var follow = false

        func execute() async throws {
            let client = try await ServerConnection.client()
            if follow {
                let code = try await RunFollower(client: client, runID: run, showStatus: true).follow()
                Foundation.exit(code)
            }
            var after = 0
            while true {
                let page = try await client.get(APIPaths.runLogs(run), query: ["after": String(after)], as: LogPage.self)
                if page.entries.isEmpty { return }
                for entry in page.entries {
                    after = entry.seq
                    let handle = entry.stream == "stdout" ? FileHandle.standardOutput : FileHandle.standardError
                    handle.write(Data(entry.text.utf8))
                }
            }
        }
    }

    struct Stop: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a run: a waiting run never starts, a running one is killed.",
            usage: "dstack stop RUN"
        )

        @Argument(help: ArgumentHelp("The run's ID (or a unique prefix of it).", valueName: "RUN"))
        var run: String

        func execute() async throws {
            let reply = try await ServerConnection.client().post(APIPaths.stopRun(run), NoContent(), as: StopReply.self)
            if reply.alreadyFinished {
                say("\(reply.run.id) has already ended (\(reply.run.status)).")
                return
            }
            say("Stopping \(reply.run.id).")
        }
    }

    /// `dstack server [OPTIONS]` runs the server in the foreground; `dstack server stop`
    /// stops the one of this DSTACK_HOME (the CLI starts it in the background by itself).
    struct Server: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the dstack server: the API the CLI uses, the reconcile loop, the runner API, and the runner binary for instances.",
            usage: "dstack server [start] [OPTIONS] | dstack server stop",
            discussion: """
            'dstack server [start] [OPTIONS]' runs the server in the foreground: it is the \
            dstack-server program next to dstack ('dstack server --help' shows its options). \
            'dstack server stop' stops the server of this DSTACK_HOME.
            """,
            subcommands: [ServerStop.self]
        )
    }

}

/// A cost the API sent as decimal dollars, to four places ("$0.0123"); "-" when unknown.
enum CostColumn {
    static func text(_ decimalDollars: String?) -> String {
        decimalDollars.flatMap(MicroDollars.init(decimalText:))?.displayText ?? "-"
    }
}
