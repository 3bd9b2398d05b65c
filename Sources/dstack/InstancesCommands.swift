import ArgumentParser
import DstackCore
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
            let workspace = CommandContext.workspace()
            let active = try workspace.activeProvider()
            let instances = try await AutoscaleService(workspace: workspace).listManaged(active)
                .sorted { ($0.launchTime ?? .distantFuture, $0.id) < ($1.launchTime ?? .distantFuture, $1.id) }
            let fleet = Dictionary(try workspace.state().read { try $0.fleet(vendor: active.vendor) }.map { ($0.id, $0) },
                                   uniquingKeysWith: { first, _ in first })
            let formatter = ISO8601DateFormatter()
            if json {
                let rows: [JSONValue] = instances.map { instance in
                    [
                        "id": .string(instance.id),
                        "instance_type": .string(instance.instanceType),
                        "state": .string(instance.state.rawValue),
                        "runner_registered": .bool(fleet[instance.id]?.registeredAt != nil),
                        "launch_time": instance.launchTime.map { .string(formatter.string(from: $0)) } ?? .null,
                        "spot_request_id": instance.spotRequestID.map(JSONValue.string) ?? .null,
                        "run_id": fleet[instance.id]?.runID.map(JSONValue.string) ?? .null,
                        "idle_since": fleet[instance.id]?.idleSince.map { .string(formatter.string(from: $0)) } ?? .null,
                    ]
                }
                say(JSONValue.array(rows).serialized(.spaced))
                return
            }
            if instances.isEmpty {
                say("No managed instances (provider: \(active.vendor)).")
                return
            }
            var table = TextTable(header: ["ID", "TYPE", "STATE", "RUNNER", "RUN", "IDLE SINCE", "LAUNCHED", "SPOT REQUEST"])
            table.rows = instances.map {
                [$0.id, $0.instanceType, $0.state.rawValue, Self.runnerColumn($0, fleet[$0.id]), fleet[$0.id]?.runID ?? "-",
                 fleet[$0.id]?.idleSince.map { formatter.string(from: $0) } ?? "-",
                 $0.launchTime.map { formatter.string(from: $0) } ?? "-", $0.spotRequestID ?? "-"]
            }
            say(table.render())
        }

        /// Tells a machine that is up but whose runner has not registered (still booting,
        /// or unable to reach the server) from one ready for work.
        static func runnerColumn(_ instance: ManagedInstance, _ fleet: FleetInstance?) -> String {
            if fleet?.registeredAt != nil { return "registered" }
            return instance.state.isLive && !instance.isUnfulfilledRequest ? "not registered yet" : "-"
        }
    }

    struct Request: DstackCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch spot instances now, within the type's rule, to warm runners up before a batch of runs; they register with the server at $DSTACK_SERVER_URL.",
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
            let workspace = CommandContext.workspace()
            let launch = try await InstanceLauncher(workspace: workspace, delivery: ServerConnection.delivery(workspace))
                .request(instanceType: instanceType, count: try parsedCount())
            let instances = launch.instances.filter { !$0.isUnfulfilledRequest }.map(\.id)
            say("Requested \(plural(try parsedCount(), "spot instance")) of \(instanceType).")
            if !launch.spotRequestIDs.isEmpty { say("Spot requests: \(launch.spotRequestIDs.joined(separator: ", ")).") }
            if !instances.isEmpty { say("Instances: \(instances.joined(separator: ", ")).") }
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
            let outcomes = try await AutoscaleService(workspace: CommandContext.workspace()).terminate(instanceIDs: ids)
            ServerConnection.wake(warnIfUnreachable: false)
            for outcome in outcomes {
                guard let run = outcome.requeuedRunID else {
                    say("Terminated \(outcome.instanceID).")
                    continue
                }
                say("Terminated \(outcome.instanceID) (its run \(run) goes back to the queue and will be retried; this does not count against its retries).")
            }
        }
    }
}
