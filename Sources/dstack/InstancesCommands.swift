import ArgumentParser
import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation

extension Dstack {
    struct Instances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the instances dstack manages, or launch some by hand.",
            usage: "dstack instances [list [--json] | request INSTANCE_TYPE [--count N] | terminate ID...]",
            subcommands: [List.self, Request.self, Terminate.self],
            defaultSubcommand: List.self
        )
    }
}

extension Dstack.Instances {
    struct List: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every instance this installation manages, as the cloud reports it: ID, type, state, whether its runner has registered, current run, idle since, launch time.",
            usage: "dstack instances list [--json]"
        )

        @Flag(help: "Print a JSON array of instances.")
        var json = false

        func execute() async throws {
            let reply = try await ServerConnection.client().get(APIPaths.instances, as: InstancesReply.self)
            if json {
                say(try JSONValueEncoder.api.encode(reply.instances).serialized(.spaced))
                return
            }
            if reply.instances.isEmpty {
                say("No managed instances (provider: \(reply.provider)).")
                return
            }
            let formatter = ISO8601DateFormatter()
            var table = TextTable(header: ["ID", "TYPE", "STATE", "RUNNER", "RUN", "IDLE SINCE", "LAUNCHED", "SPOT REQUEST"])
            table.rows = reply.instances.map {
                [$0.id, $0.instanceType, $0.state, Self.runnerColumn($0), $0.runId ?? "-",
                 $0.idleSince.map { formatter.string(from: $0) } ?? "-",
                 $0.launchTime.map { formatter.string(from: $0) } ?? "-", $0.spotRequestId ?? "-"]
            }
            say(table.render())
        }

        /// Tells a machine that is up but whose runner has not registered (still booting,
        /// or unable to reach the server) from one ready for work.
        static func runnerColumn(_ instance: InstanceInfo) -> String {
            if instance.runnerRegistered { return "registered" }
            return instance.awaitingRunner ? "not registered yet" : "-"
        }
    }

    struct Request: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch spot instances now, within the type's rule, to warm runners up before a batch of runs; the server launches them within the type's max, and their runners register with it.",
            usage: "dstack instances request INSTANCE_TYPE [--count N]"
        )

        @Argument(help: ArgumentHelp("An instance type that a rule allows.", valueName: "INSTANCE_TYPE"))
        var instanceType: String

        @Option(name: .customLong("count"), parsing: .unconditional,
                help: ArgumentHelp("How many instances to launch (default 1)", valueName: "N"))
        var count: String = "1"

        func validate() throws {
            _ = try parsedCount()
        }

        func parsedCount() throws -> Int {
            guard !count.isEmpty, count.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(count), value > 0 else {
                throw ValidationError("--count must be a whole number of 1 or more, got '\(count)'")
            }
            return value
        }

        func execute() async throws {
            let reply = try await ServerConnection.client().post(
                APIPaths.instanceRequests, InstanceRequest(instanceType: instanceType, count: try parsedCount()),
                as: InstanceRequestReply.self)
            say("Requested \(plural(reply.count, "spot instance")) of \(reply.instanceType).")
            if !reply.spotRequestIds.isEmpty { say("Spot requests: \(reply.spotRequestIds.joined(separator: ", ")).") }
            if !reply.instanceIds.isEmpty { say("Instances: \(reply.instanceIds.joined(separator: ", ")).") }
        }
    }
}

extension Dstack.Instances {
    struct Terminate: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Terminate instances by ID (and cancel their spot requests); a run one had goes back to the queue as a retry that does not count against its retries.",
            usage: "dstack instances terminate ID [ID...]"
        )

        @Argument(help: ArgumentHelp("Instance IDs, as 'dstack instances' lists them.", valueName: "ID"))
        var ids: [String] = []

        func validate() throws {
            if ids.isEmpty { throw ValidationError("name at least one instance ID to terminate") }
        }

        func execute() async throws {
            let reply = try await ServerConnection.client().post(APIPaths.terminateInstances, TerminateRequest(ids: ids),
                                                                 as: TerminateReply.self)
            for outcome in reply.terminated {
                guard let run = outcome.requeuedRun else {
                    say("Terminated \(outcome.id).")
                    continue
                }
                say("Terminated \(outcome.id) (its run \(run) goes back to the queue and will be retried; this does not count against its retries).")
            }
        }
    }
}
