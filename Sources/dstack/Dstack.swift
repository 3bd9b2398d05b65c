import ArgumentParser
import DstackCLIKit
import DstackProject
import DstackProvider
import DstackWire
import DstackPlugins

/// `dstack`: the command tree, as nested types. `dstack <vendor> configure` is not a
/// static subcommand: it is built from the provider plugins' fields (VendorConfigure).
struct Dstack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dstack",
        abstract: "Run workflows on spot instances in your own cloud.",
        usage: "dstack [VENDOR configure | autoscale | run | ps | logs | stop | artifacts | instances | users | login | server] ...",
        discussion: """
        Configure a cloud vendor with 'dstack VENDOR configure', where VENDOR is one of \
        \(builtinRegistry.vendors.joined(separator: ", ")). Then allow instance types with \
        'dstack autoscale allow INSTANCE_TYPE --max MAX'. Every command is a client of \
        the dstack server: $DSTACK_SERVER_URL with $DSTACK_TOKEN, or the one 'dstack login' \
        saved, or else the server of $DSTACK_HOME (default ~/.dstack), which the CLI starts \
        in the background when none is running ('dstack server stop' stops it).
        """,
        subcommands: [Autoscale.self, Run.self, Ps.self, Logs.self, Stop.self, Artifacts.self, Instances.self, Users.self, Login.self, Server.self]
    )

    static let versionLine = "dstack \(DstackVersion.current)"

    // Only here, not on every subcommand as ArgumentParser's `version` would put it;
    // main.swift answers `dstack --version` before parsing.
    @Flag(name: .customLong("version"), help: "Print the version and exit.")
    var version = false
}
