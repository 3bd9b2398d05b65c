import ArgumentParser
import DstackCore
import Foundation

extension Dstack {
    struct Autoscale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage autoscale rules: which instance types dstack may use, and how many.",
            usage: "dstack autoscale {allow,info,clear,disable,enable} ...",
            subcommands: [Allow.self, Info.self, Clear.self, Disable.self, Enable.self]
        )
    }
}

extension Dstack.Autoscale {
    struct Allow: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, replace or remove the rule for an instance type.",
            usage: "dstack autoscale allow --max MAX INSTANCE_TYPE",
            discussion: """
            INSTANCE_TYPE can be any instance type the configured cloud supports for spot \
            instances. '--max 0' removes the rule. Lowering the max shuts down the extra \
            instances of that type at once, newest first.
            """
        )

        @Argument(help: ArgumentHelp("An instance type the cloud offers as spot, e.g. m5.xlarge.", valueName: "INSTANCE_TYPE"))
        var instanceType: String

        // Taken as text so that '-1' and 'abc' get our own one-line message.
        @Option(name: .customLong("max"), parsing: .unconditional,
                help: ArgumentHelp("The maximum number of instances", valueName: "MAX"))
        var max: String

        func validate() throws {
            _ = try parsedMax()
            if instanceType.isEmpty || instanceType.contains(where: { $0.isWhitespace }) {
                throw ValidationError("INSTANCE_TYPE must be a non-empty name without spaces, got '\(instanceType)'")
            }
        }

        func parsedMax() throws -> Int {
            guard !max.isEmpty, max.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(max) else {
                throw ValidationError("--max must be a whole number of 0 or more, got '\(max)'")
            }
            return value
        }

        func execute() async throws {
            let outcome = try await AutoscaleService(workspace: CommandContext.workspace())
                .allow(instanceType: instanceType, max: try parsedMax())
            ServerConnection.wake(warnIfUnreachable: false)
            let type = outcome.instanceType
            switch (outcome.previousMax, outcome.newMax) {
            case (0, 0): say("There was no rule for \(type); nothing to remove.")
            case (_, 0): say("Removed the rule for \(type).")
            case (0, let new): say("Allowed up to \(plural(new, "instance")) of \(type).")
            case (let old, let new) where old == new: say("The rule for \(type) already allows \(plural(new, "instance")).")
            case (let old, let new): say("Changed the max for \(type) from \(old) to \(new).")
            }
            if !outcome.shutDown.isEmpty {
                say("Shut down \(plural(outcome.shutDown.count, "instance")) of \(type): \(outcome.shutDown.map(\.id).joined(separator: ", ")).")
                sayRequeued(outcome.outcomes)
            }
        }
    }

    struct Info: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the autoscale rules and the instances each has now.",
            usage: "dstack autoscale info [--json]"
        )

        @Flag(help: "Print {\"enabled\", \"provider\", \"rules\"} as JSON.")
        var json = false

        func execute() async throws {
            let info = try await AutoscaleService(workspace: CommandContext.workspace()).info()
            if json {
                let rules: [JSONValue] = info.rules.map {
                    ["instance_type": .string($0.instanceType), "max": .int(Int64($0.max)), "instances": .int(Int64($0.instances))]
                }
                let document: JSONValue = [
                    "enabled": .bool(info.enabled),
                    "provider": info.vendor.map(JSONValue.string) ?? .null,
                    "rules": .array(rules),
                ]
                say(document.serialized(.spaced))
                return
            }
            say("Autoscaling is \(info.enabled ? "enabled" : "disabled"); provider: \(info.vendor ?? "none configured").")
            if info.rules.isEmpty {
                say("No rules. Add one with: dstack autoscale allow INSTANCE_TYPE --max MAX")
                return
            }
            var table = TextTable(header: ["INSTANCE TYPE", "MAX", "INSTANCES"])
            table.rows = info.rules.map { [$0.instanceType, String($0.max), String($0.instances)] }
            say(table.render())
        }
    }

    struct Clear: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every rule and shut down every running spot instance.",
            usage: "dstack autoscale clear"
        )

        func execute() async throws {
            let outcome = try await AutoscaleService(workspace: CommandContext.workspace()).clear()
            ServerConnection.wake(warnIfUnreachable: false)
            say(outcome.removedRules == 0 ? "There were no rules." : "Deleted \(plural(outcome.removedRules, "rule")).")
            say(outcome.shutDown.isEmpty ? "No instances were running." : "Shut down \(plural(outcome.shutDown.count, "instance")).")
            sayRequeued(outcome.outcomes)
        }
    }

    struct Disable: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause autoscaling, keeping the rules; shuts down every running spot instance.",
            usage: "dstack autoscale disable"
        )

        func execute() async throws {
            let outcome = try await AutoscaleService(workspace: CommandContext.workspace()).disable()
            ServerConnection.wake(warnIfUnreachable: false)
            say(outcome.changed ? "Autoscaling is now disabled." : "Autoscaling was already disabled.")
            if !outcome.shutDown.isEmpty { say("Shut down \(plural(outcome.shutDown.count, "instance")).") }
            sayRequeued(outcome.outcomes)
        }
    }

    struct Enable: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume autoscaling with the rules as they are.",
            usage: "dstack autoscale enable"
        )

        func execute() async throws {
            let outcome = try AutoscaleService(workspace: CommandContext.workspace()).enable()
            ServerConnection.wake(warnIfUnreachable: false)
            say(outcome.changed ? "Autoscaling is now enabled." : "Autoscaling was already enabled.")
        }
    }
}

/// Names each run a shutdown cut off, so no one wonders where it went.
func sayRequeued(_ outcomes: [InstanceShutdown.Outcome]) {
    for outcome in outcomes {
        if let run = outcome.requeuedRunID {
            say("Shut down \(outcome.instanceID) (its run \(run) goes back to the queue and will be retried).")
        }
    }
}
