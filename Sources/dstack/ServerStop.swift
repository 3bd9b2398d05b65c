import ArgumentParser
import DstackAPI
import DstackWire
import DstackCLIKit
import Foundation

extension Dstack {
    /// Stops the server of this DSTACK_HOME the way SIGTERM does: the pass in flight
    /// finishes, long polls are let go, then it exits.
    struct ServerStop: DstackCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop the dstack server of this DSTACK_HOME (the one the CLI started in the background, or one started by hand).",
            usage: "dstack server stop"
        )

        static let stopTimeout: TimeInterval = 60

        func execute() async throws {
            let home = DstackHome.fromEnvironment()
            guard let record = LocalServerRecord.running(home) else {
                say("No dstack server is running for \(home.path).")
                return
            }
            guard kill(record.pid, SIGTERM) == 0 else {
                throw CLIError("could not stop the dstack server (pid \(record.pid)): \(String(cString: strerror(errno)))")
            }
            let deadline = Date().addingTimeInterval(Self.stopTimeout)
            while kill(record.pid, 0) == 0, Date() < deadline {
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            if kill(record.pid, 0) == 0 {
                throw CLIError("the dstack server (pid \(record.pid)) is still finishing after \(Int(Self.stopTimeout)) s; it stops once its reconcile pass ends")
            }
            say("Stopped the dstack server (pid \(record.pid)) of \(home.path).")
        }
    }
}
