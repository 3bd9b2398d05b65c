import Foundation
#if canImport(Glibc)
import Glibc
#endif

// dstack-runner: the daemon on each instance. For now only its lifecycle: start,
// record itself in the state directory, wait, exit 0 on SIGTERM or SIGINT. Taking
// workflows from the server comes with the autoscaler.

// SIGTERM and SIGINT are blocked before any thread exists, so every thread inherits
// the mask and a stop signal stays pending until `sigwait` takes it, however early it
// comes (the provider may stop an instance the moment it appears). Not a dispatch
// source: on Linux it installs its handler asynchronously while dispatchMain()
// unblocks the main thread, and a SIGTERM in between was lost (then SIGKILL).
let stopSignals: [Int32: String] = [SIGTERM: "SIGTERM", SIGINT: "SIGINT"]
var stopMask = sigset_t()
sigemptyset(&stopMask)
stopSignals.keys.forEach { sigaddset(&stopMask, $0) }
pthread_sigmask(SIG_BLOCK, &stopMask, nil)

// The log is a file on instances; line buffering keeps it readable while we run.
setvbuf(stdout, nil, _IOLBF, 0)

func log(_ message: String) {
    print("dstack-runner: \(message)")
}

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

do {
    try RunnerRecord.write(instanceID: options.instanceID, pid: getpid(), startedAt: Date(), in: options.stateDirectory)
} catch {
    FileHandle.standardError.write(Data("dstack-runner: \(error)\n".utf8))
    exit(1)
}
log("instance \(options.instanceID) started (pid \(getpid())), state in \(options.stateDirectory)")

// The workflow loop of the autoscaler issue will run on other threads (which inherit the
// mask); the main thread only waits to be told to stop. The state directory stays: it
// belongs to whoever started the instance.
var received: Int32 = 0
while sigwait(&stopMask, &received) != 0 {}
log("\(stopSignals[received] ?? "signal \(received)") received, stopping")
exit(0)
