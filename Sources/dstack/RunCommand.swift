import ArgumentParser
import DstackCore
import Foundation

extension Dstack {
    struct Run: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a run: a workflow from .dstack/workflows.yaml, or a command after --.",
            usage: "dstack run [--detach] [--instance-type T | --cpu N --memory SIZE --gpu N] (WORKFLOW | -- CMD ARGS...)",
            discussion: """
            Prints the run ID, then the run's status changes and output until it ends, and \
            exits with the run's exit code. Ctrl-C detaches; the run goes on. The dstack \
            server (dstack server, found at $DSTACK_SERVER_URL, default http://127.0.0.1:3000) \
            starts instances and runs the work.
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

        @Option(name: .customLong("memory"), help: ArgumentHelp("At least this much memory, e.g. 16GB.", valueName: "SIZE"))
        var memory: String?

        @Option(name: .customLong("gpu"), help: ArgumentHelp("At least this many GPUs.", valueName: "N"))
        var gpu: String?

        @Flag(name: .shortAndLong, help: "Return as soon as the run is submitted.")
        var detach = false

        @Option(name: .customLong("file"), help: ArgumentHelp("The workflows file.", valueName: "PATH"))
        var file: String = WorkflowFile.defaultPath

        func validate() throws {
            if workflow == nil && command.isEmpty {
                throw ValidationError("give a WORKFLOW name or a command after --")
            }
            if workflow != nil && !command.isEmpty {
                throw ValidationError("give a WORKFLOW name or a command after --, not both")
            }
            _ = try flagRequirements()
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
            if let workflow {
                let file = try WorkflowFile.load(path: self.file)
                guard let found = file.workflow(named: workflow) else {
                    let names = file.workflows.map(\.name).joined(separator: ", ")
                    throw CLIError("\(self.file) has no workflow named '\(workflow)'" + (names.isEmpty ? "" : "; it has \(names)"))
                }
                commands = found.commands
                requirements = try flagRequirements() ?? found.requirements
            }
            let workspace = CommandContext.workspace()
            let id = "run-\(SecureRandom.hex(4))"
            try workspace.state().write { tx in
                try tx.submitRun(id: id, workflow: workflow, commands: commands, requirements: requirements)
            }
            say(id)
            ServerConnection.wake(warnIfUnreachable: true)
            if detach { return }
            let code = try RunFollower(workspace: workspace, runID: id, showStatus: true).follow()
            Foundation.exit(code)
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

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
