import DstackRunnerKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// dstack-runner: the daemon on each instance. The logic is in DstackRunnerKit; this
// file owns the process: flags, stop signals, exit.

// SIGTERM and SIGINT are blocked before any thread exists, so every thread inherits
// the mask and a stop signal stays pending until `sigwait` takes it, however early it
// comes (the provider may stop an instance the moment it appears). Not a dispatch
// source: on Linux it installs its handler asynchronously while dispatchMain()
// unblocks the main thread, and a SIGTERM in between was lost (then SIGKILL).
// Commands get an empty mask back when they are spawned.
let stopSignals: [Int32: String] = [SIGTERM: "SIGTERM", SIGINT: "SIGINT"]
var stopMask = sigset_t()
sigemptyset(&stopMask)
stopSignals.keys.forEach { sigaddset(&stopMask, $0) }
pthread_sigmask(SIG_BLOCK, &stopMask, nil)

let options: RunnerOptions
switch RunnerOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .run(let parsed):
    options = parsed
case .help:
    print(RunnerOptions.usage)
    exit(0)
case .invalid(let problem):
    FileHandle.standardError.write(Data("dstack-runner: \(problem) (\(RunnerOptions.usage))\n".utf8))
    exit(2)
}

let daemon = RunnerDaemon(options: options) { code in exit(code) }
daemon.start()

// The main thread only waits to be told to stop; the daemon's threads do the work.
// The state directory stays: it belongs to whoever started the instance.
var received: Int32 = 0
while sigwait(&stopMask, &received) != 0 {}
daemon.stop(signalName: stopSignals[received] ?? "signal \(received)")
// `stop` ends the process; this is only reached if another path is already ending it.
while true { pause() }
