import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// dstack-runner: the daemon on each instance. For now only its lifecycle: start,
// record itself in the state directory, wait, exit 0 on SIGTERM or SIGINT. Taking
// workflows from the server comes with the autoscaler.

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

// Signals are taken through dispatch sources, which need the default action off.
let stopSignals: [(Int32, String)] = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")]
let signalSources = stopSignals.map { signalNumber, name -> DispatchSourceSignal in
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
    source.setEventHandler {
        // The state directory stays: it belongs to whoever started the instance.
        log("\(name) received, stopping")
        exit(0)
    }
    source.resume()
    return source
}

do {
    try RunnerRecord.write(instanceID: options.instanceID, pid: getpid(), startedAt: Date(), in: options.stateDirectory)
} catch {
    FileHandle.standardError.write(Data("dstack-runner: \(error)\n".utf8))
    exit(1)
}
log("instance \(options.instanceID) started (pid \(getpid())), state in \(options.stateDirectory)")

withExtendedLifetime(signalSources) { dispatchMain() }
