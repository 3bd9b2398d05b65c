import ArgumentParser
import DstackAPI
import DstackCLIKit
import DstackProject
import DstackProvider
import DstackWire
import Foundation

extension Dstack {
    struct Run: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a run: a workflow from .dstack/workflows.yaml, or a command after --.",
            usage: """
            dstack run [--detach] [--wait] [--instance-type T | --cpu N --memory SIZE --gpu N] [--env KEY=VALUE]... \
            [--max-code-size SIZE | --no-code] [--artifact PATH]... [--dep-workflow NAME]... [--dep-run ID]... \
            (WORKFLOW | -- CMD ARGS...)
            """,
            discussion: """
            Ships the working directory with the run (in a git repository: the tracked files \
            as they are on disk plus untracked files git does not ignore; elsewhere: every file \
            minus .gitignore patterns; either way minus .dstackignore patterns). Prints the run \
            ID, then the run's status changes and output until it ends, and exits with the \
            run's exit code. Ctrl-C detaches; the run goes on. A run that no allowed instance \
            type can ever fit is refused unless --wait is given. The dstack server starts \
            instances and runs the work: the one at $DSTACK_SERVER_URL (with $DSTACK_TOKEN), \
            else the one 'dstack login' saved, else the server of this DSTACK_HOME, which the \
            CLI starts in the background when none is running.
            """
        )

        @Argument(help: ArgumentHelp("A workflow name from .dstack/workflows.yaml.", valueName: "WORKFLOW"))
        var workflow: String?

        @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to run instead of a workflow.", valueName: "CMD"))
        var command: [String] = []

        @Option(name: .customLong("instance-type"), help: ArgumentHelp("Run on this instance type.", valueName: "T"))
        var instanceType: String?

        @Option(name: .customLong("cpu"), help: ArgumentHelp("At least this many vCPUs.", valueName: "N"))
        var cpu: String?

        @Option(name: .customLong("memory"), help: ArgumentHelp("At least this much memory, e.g. 16GB (a bare number is GB).", valueName: "SIZE"))
        var memory: String?

        @Option(name: .customLong("gpu"), help: ArgumentHelp("At least this many GPUs.", valueName: "N"))
        var gpu: String?

        @Flag(name: .shortAndLong, help: "Return as soon as the run is submitted.")
        var detach = false

        @Flag(name: .customLong("wait"), help: "Queue the run even when no allowed instance type fits it yet; it waits until a rule allows it.")
        var wait = false

        @Option(name: .customLong("env"), help: ArgumentHelp("Set a variable in the commands' environment (repeatable; over the workflow's env).", valueName: "KEY=VALUE"))
        var env: [String] = []

        @Option(name: .customLong("max-code-size"), help: ArgumentHelp("The most code to ship, e.g. 500MB (a bare number is MB; 0: no limit).", valueName: "SIZE"))
        var maxCodeSize: String = "100MB"

        @Flag(name: .customLong("no-code"), help: "Ship no code: the commands start in an empty directory.")
        var noCode = false

        @Option(name: .customLong("file"), help: ArgumentHelp("The workflows file.", valueName: "PATH"))
        var file: String = WorkflowFile.defaultPath

        @Option(name: .customLong("artifact"), help: ArgumentHelp("Upload this path (relative to the working directory) when the commands end (repeatable; added to the workflow's).", valueName: "PATH"))
        var artifacts: [String] = []

        @Option(name: .customLong("dep-workflow"), help: ArgumentHelp("Start with the artifacts of this workflow's latest successful run (repeatable).", valueName: "NAME"))
        var depWorkflows: [String] = []

        @Option(name: .customLong("dep-run"), help: ArgumentHelp("Start with the artifacts of this run (repeatable).", valueName: "ID"))
        var depRuns: [String] = []

        func validate() throws {
            if workflow == nil && command.isEmpty {
                throw ValidationError("give a WORKFLOW name or a command after --")
            }
            if workflow != nil && !command.isEmpty {
                throw ValidationError("give a WORKFLOW name or a command after --, not both")
            }
            _ = try flagRequirements()
            _ = try flagEnvironment()
            for path in artifacts {
                if let problem = ArtifactPath.problem(path) { throw ValidationError("--artifact: \(problem)") }
            }
            if (depWorkflows + depRuns).contains(where: \.isEmpty) {
                throw ValidationError("--dep-workflow and --dep-run need a name")
            }
            _ = try codeLimit()
        }

        /// `--env KEY=VALUE`s, later ones winning.
        func flagEnvironment() throws -> [String: String] {
            var environment: [String: String] = [:]
            for entry in env {
                switch EnvironmentEntry.parse(entry) {
                case .success(let (key, value)): environment[key] = value
                case .failure(let error): throw ValidationError("--env: \(error)")
                }
            }
            return environment
        }

        func codeLimit() throws -> Int {
            guard let limit = ByteSize.parse(maxCodeSize) else {
                throw ValidationError("--max-code-size must be a size such as 100MB or 1GB (0 for no limit), got '\(maxCodeSize)'")
            }
            return limit
        }

        /// Requirements given as flags; nil when none were given.
        func flagRequirements() throws -> ResourceRequirements? {
            var requirements = ResourceRequirements(instanceType: instanceType)
            if let cpu {
                guard let value = Int(cpu), value > 0 else { throw ValidationError("--cpu must be a whole number above 0, got '\(cpu)'") }
                requirements.cpus = value
            }
            if let memory {
                guard let value = MemorySize.mebibytes(memory) else {
                    throw ValidationError("--memory must be a size such as 16GB or 512MB, got '\(memory)'")
                }
                requirements.memoryMiB = value
            }
            if let gpu {
                guard let value = Int(gpu), value >= 0 else { throw ValidationError("--gpu must be a whole number, got '\(gpu)'") }
                requirements.gpus = value
            }
            if instanceType != nil, cpu != nil || memory != nil || gpu != nil {
                throw ValidationError("give --instance-type or --cpu/--memory/--gpu, not both")
            }
            return requirements == ResourceRequirements() ? nil : requirements
        }

        func execute() async throws {
            var commands = [command.map(ShellQuote.quote).joined(separator: " ")]
            var requirements = try flagRequirements() ?? ResourceRequirements()
            var environment: [String: String] = [:]
            var artifactPaths: [String] = []
            var deps: [DepPayload] = []
            var retry: RetryPayload? = nil
            if let workflow {
                let file = try WorkflowFile.load(path: self.file)
                guard let found = file.workflow(named: workflow) else {
                    let names = file.workflows.map(\.name).joined(separator: ", ")
                    throw CLIError("\(self.file) has no workflow named '\(workflow)'" + (names.isEmpty ? "" : "; it has \(names)"))
                }
                commands = found.commands
                requirements = try flagRequirements() ?? found.requirements
                environment = found.environment
                artifactPaths = found.artifacts
                deps = found.deps.map { dep in
                    switch dep {
                    case .workflow(let name): return DepPayload(workflow: name)
                    case .run(let id): return DepPayload(run: id)
                    }
                }
                retry = found.retry.map { RetryPayload(onEvents: $0.onEvents.map(\.rawValue), duration: $0.duration.map { Int($0) }) }
            }
            for path in artifacts.map(ArtifactPath.normalized) where !artifactPaths.contains(path) { artifactPaths.append(path) }
            deps += depWorkflows.map { DepPayload(workflow: $0) } + depRuns.map { DepPayload(run: $0) }
            environment.merge(try flagEnvironment()) { _, flag in flag }

            // Everything that can refuse the run on this side happens before anything is sent.
            let files = noCode ? nil : try collectCode()
            let client = try await ServerConnection.client()
            let code = try files.map(pack)
            let submission = RunSubmission(
                workflow: workflow, commands: commands,
                requirements: RequirementsPayload(instanceType: requirements.instanceType, cpu: requirements.cpus,
                                                  memoryMib: requirements.memoryMiB, gpu: requirements.gpus,
                                                  diskGb: requirements.diskGB),
                environment: environment, codeSha256: code?.shipped.sha256, codeSize: code?.shipped.size, wait: wait,
                artifacts: artifactPaths, deps: deps, retry: retry)
            let run: RunInfo
            do {
                run = try await client.post(APIPaths.runs, submission, as: RunInfo.self)
            } catch APIClientError.refused(let status, _) where status == APIPaths.codeMissingStatus && code != nil {
                // The server has not seen this code yet (identical code is uploaded once).
                try await client.upload(APIPaths.codeArchive(code!.shipped.sha256), bytes: code!.bytes,
                                        contentType: "application/gzip")
                run = try await client.post(APIPaths.runs, submission, as: RunInfo.self)
            }
            say(run.id)
            if detach { return }
            let exitCode = try await RunFollower(client: client, runID: run.id, showStatus: true).follow()
            Foundation.exit(exitCode)
        }
    }
}

extension Dstack.Run {
    /// The files of the working directory to ship, checked against the limit; nil when
    /// there are none. Over the limit: one sentence and the biggest files, exit 1.
    func collectCode() throws -> CodeFiles? {
        let files: CodeFiles
        do {
            files = try CodeFiles.collect(root: FileManager.default.currentDirectoryPath)
            try CodeTooLarge.check(files, limit: try codeLimit())
        } catch let error as CodeShippingError {
            throw CLIError(error.description)
        } catch let error as CodeTooLarge {
            FileHandle.standardError.write(Data(error.lines.enumerated().map { index, line in
                (index == 0 ? "dstack: " : "") + line + "\n"
            }.joined().utf8))
            throw ExitCode(1)
        }
        return files.files.isEmpty ? nil : files
    }

    /// Packs the files deterministically, in memory, so that the same code has the same
    /// hash and the server, which stores archives by hash, is sent each one once.
    func pack(_ files: CodeFiles) throws -> PackedCodeArchive {
        do {
            return try PackedCodeArchive(files)
        } catch let error as CodeShippingError {
            throw CLIError(error.description)
        }
    }
}

/// Quotes an argument for /bin/sh so `dstack run -- echo "a b"` runs what was typed.
enum ShellQuote {
    static func quote(_ argument: String) -> String {
        let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }
        if safe && !argument.isEmpty { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

