import ArgumentParser
import DstackAPI
import DstackWire
import DstackCLIKit
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
            instances of that type at once (idle ones first, then the newest) and returns \
            once the server has sent their terminations. The server checks INSTANCE_TYPE \
            against the account; it may answer from its list of the account's offerings, \
            which is at most 10 minutes old. '--on-rebalance' says what an instance of the \
            type does when the cloud recommends rebalancing it (its capacity is at risk): \
            ignore (the default) keeps it working; drain gives it no new runs and lets it go \
            once idle; replace does the same and starts a replacement now.
            """
        )

        @Argument(help: ArgumentHelp("An instance type the cloud offers as spot, e.g. m5.xlarge.", valueName: "INSTANCE_TYPE"))
        var instanceType: String

        // Taken as text so that '-1' and 'abc' get our own one-line message.
        @Option(name: .customLong("max"), parsing: .unconditional,
                help: ArgumentHelp("The maximum number of instances", valueName: "MAX"))
        var max: String

        @Option(name: .customLong("on-rebalance"),
                help: ArgumentHelp("ignore, drain or replace: what an instance does on a rebalance recommendation", valueName: "POLICY"))
        var onRebalance: String?

        func validate() throws {
            _ = try parsedMax()
            if let onRebalance, !["ignore", "drain", "replace"].contains(onRebalance) {
                throw ValidationError("--on-rebalance must be ignore, drain or replace, got '\(onRebalance)'")
            }
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
            let client = try await ServerConnection.client()
            let reply = try await client.put(APIPaths.rule(instanceType), AllowRequest(max: try parsedMax(), onRebalance: onRebalance), as: AllowReply.self)
            let type = reply.instanceType
            switch (reply.previousMax, reply.newMax) {
            case (0, 0): say("There was no rule for \(type); nothing to remove.")
            case (_, 0): say("Removed the rule for \(type).")
            case (0, let new): say("Allowed up to \(plural(new, "instance")) of \(type).")
            case (let old, let new) where old == new: say("The rule for \(type) already allows \(plural(new, "instance")).")
            case (let old, let new): say("Changed the max for \(type) from \(old) to \(new).")
            }
            if !reply.shutdown.shutDown.isEmpty {
                say("Shut down \(plural(reply.shutdown.shutDown.count, "instance")) of \(type): \(reply.shutdown.shutDown.map(\.id).joined(separator: ", ")).")
            }
            sayShutdown(reply.shutdown)
        }
    }

    struct Info: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the autoscale rules: the instances each has now, the spot price and zone of its next launch, and what its instances cost idle or booting today (UTC) and over the last 30 days (runs' time is in dstack ps).",
            usage: "dstack autoscale info [--json]"
        )

        @Flag(help: "Print {\"enabled\", \"provider\", \"rules\"} as JSON.")
        var json = false

        func execute() async throws {
            let info = try await ServerConnection.client().get(APIPaths.autoscale, as: AutoscaleInfo.self)
            if json {
                say(try JSONValueEncoder.api.encode(info).serialized(.spaced))
                return
            }
            say("Autoscaling is \(info.enabled ? "enabled" : "disabled"); provider: \(info.provider ?? "none configured").")
            if info.rules.isEmpty {
                say("No rules. Add one with: dstack autoscale allow INSTANCE_TYPE --max MAX")
                return
            }
            var table = TextTable(header: ["INSTANCE TYPE", "MAX", "INSTANCES", "ON REBALANCE", "SPOT PRICE", "ZONE", "SPEND TODAY", "SPEND 30D"])
            table.rows = info.rules.map {
                [$0.instanceType, String($0.max), String($0.instances), $0.onRebalance ?? "ignore",
                 $0.spotPrice.map { String(format: "$%.4f/h", $0) } ?? "-", $0.zone ?? "-",
                 CostColumn.text($0.spendTodayDollars), CostColumn.text($0.spendLast30DaysDollars)]
            }
            say(table.render())
        }
    }

    struct Clear: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every rule and shut down every running spot instance.",
            usage: "dstack autoscale clear"
        )

        func execute() async throws {
            let reply = try await ServerConnection.client().delete(APIPaths.rules, as: ClearReply.self)
            say(reply.removedRules == 0 ? "There were no rules." : "Deleted \(plural(reply.removedRules, "rule")).")
            if reply.shutdown.pending.isEmpty {
                say(reply.shutdown.shutDown.isEmpty ? "No instances were running."
                    : "Shut down \(plural(reply.shutdown.shutDown.count, "instance")).")
            }
            sayShutdown(reply.shutdown)
        }
    }

    struct Disable: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause autoscaling, keeping the rules; shuts down every running spot instance.",
            usage: "dstack autoscale disable"
        )

        func execute() async throws {
            let reply = try await ServerConnection.client().post(APIPaths.disable, NoContent(), as: ToggleReply.self)
            say(reply.changed ? "Autoscaling is now disabled." : "Autoscaling was already disabled.")
            if !reply.shutdown.shutDown.isEmpty { say("Shut down \(plural(reply.shutdown.shutDown.count, "instance")).") }
            sayShutdown(reply.shutdown)
        }
    }

    struct Enable: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume autoscaling with the rules as they are.",
            usage: "dstack autoscale enable"
        )

        func execute() async throws {
            let reply = try await ServerConnection.client().post(APIPaths.enable, NoContent(), as: ToggleReply.self)
            say(reply.changed ? "Autoscaling is now enabled." : "Autoscaling was already enabled.")
        }
    }
}

/// Names each run a shutdown cut off, so no one wonders where it went, and what the
/// server could not shut down yet because the cloud failed.
func sayShutdown(_ report: ShutdownReport) {
    for instance in report.shutDown {
        if let run = instance.requeuedRun {
            say("Shut down \(instance.id) (its run \(run) goes back to the queue and will be retried).")
        }
    }
    if !report.pending.isEmpty || report.pendingReason != nil {
        let what = report.pending.isEmpty ? "The shutdown" : "Still to shut down: \(report.pending.joined(separator: ", ")); the shutdown"
        say("\(what) could not finish: \(report.pendingReason ?? "the cloud did not answer"). The dstack server keeps trying.")
    }
}
