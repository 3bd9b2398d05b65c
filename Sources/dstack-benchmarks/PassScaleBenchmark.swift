import DstackCore
import DstackTesting
import Foundation

// dstack-benchmarks pass-scale [--instances 10000] [--runs 100000] [--passes 5]
//
// One reconcile pass (`Reconciler.reconcile()`, exactly as the server's loop runs it) over
// a big state, on SQLite and then on PostgreSQL 15, in the same process run:
//   1. A SQLite state in a scratch DSTACK_HOME is filled through the state layer
//      (`StateTransaction`, 10,000 rows a transaction): the 9 instance types of the
//      planner benchmark allowed, their maxes adding up to INSTANCES; one sent launch
//      batch per type whose INSTANCES runners registered; RUNS runs submitted, the first
//      INSTANCES of them running, one on each instance (so every instance is busy and
//      every type at its max: a steady fleet), the rest waiting with the planner
//      benchmark's mix of requirements (explicit types, cpu/memory/gpu shapes, one that
//      fits nothing).
//   2. A throwaway PostgreSQL 15 (DstackTesting's ThrowawayPostgres: initdb in a
//      temporary directory, a free port, an unprivileged user) gets a copy of that state
//      through `StateCopy` (what `dstack server migrate-state` does), so both backends
//      start from the same rows.
//   3. On each backend: a Reconciler on a Workspace of that state with an in-process
//      cloud (`PassScaleCloud`) that lists the INSTANCES instances as running and calls
//      nothing else. The first pass (it makes every submitted run pending and writes
//      each one's reason: RUNS − INSTANCES updates) is reported on its own; then PASSES
//      steady passes (nothing launched, assigned or terminated; checked) are timed:
//      median, p90, max.
// The heartbeat timeout is a day, so a slow fill cannot make the fleet look dead.

struct PassScaleBackendResult {
    var backend: String
    var firstPassSeconds: Double
    var steadySeconds: [Double]
    var waitingRuns: Int
}

struct PassScaleResult {
    var instances: Int
    var runs: Int
    var fillSeconds: Double
    var copySeconds: Double
    var backends: [PassScaleBackendResult]
}

/// A cloud held in memory: it lists a fixed fleet as running and knows the planner
/// benchmark's types. A steady pass asks it for nothing else; any launch or termination
/// fails the benchmark (the fleet was built at its maxes, so none should come).
struct PassScaleCloud: CloudProvider {
    let instances: [ManagedInstance]
    let facts: [String: InstanceTypeFacts]

    func verifyConfiguration() async throws {}
    func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        guard let found = facts[name] else { throw ProviderError.unsupportedInstanceType(name: name, reason: "not in the benchmark") }
        return found
    }
    func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch {
        throw BenchmarkError("the steady pass launched \(request.count) \(request.instanceType); the fleet was built at its maxes")
    }
    func terminate(_ target: TerminationTarget) async throws {
        throw BenchmarkError("the steady pass terminated \(target.instanceIDs.count) instances")
    }
    func list(known: KnownResources) async throws -> [ManagedInstance] { instances }
}

enum PassScaleWorld {
    static let vendor = "passscale"
    static let chunk = 10_000

    static func instanceID(_ index: Int) -> String { String(format: "i-%017x", index) }
    static func runID(_ index: Int) -> String { String(format: "run-%08x", index) }
    static func type(ofInstance index: Int) -> String { PlannerWorld.facts[index % PlannerWorld.facts.count].name }

    static func plugin(_ cloud: PassScaleCloud) -> ProviderPlugin {
        ProviderPlugin(vendor: vendor, displayName: "Pass-scale benchmark", fields: []) { _, _ in cloud }
    }

    static func cloud(instances: Int, launchedAt: Date) -> PassScaleCloud {
        PassScaleCloud(instances: (0..<instances).map { index in
            ManagedInstance(id: instanceID(index), instanceType: type(ofInstance: index), state: .running, launchTime: launchedAt,
                            spotRequestID: "sir-" + instanceID(index).dropFirst(2))
        }, facts: Dictionary(uniqueKeysWithValues: PlannerWorld.facts.map { ($0.name, $0) }))
    }

    /// Fills an empty state: rules, one registered launch batch per type, the runs.
    static func fill(_ state: StateStore, instances: Int, runs: Int) throws {
        let types = PlannerWorld.facts.map(\.name)
        let perType = Dictionary(grouping: 0..<instances, by: type(ofInstance:))
        try state.write { tx in
            for type in types {
                _ = try tx.setRule(type, max: perType[type]?.count ?? 0)
                let token = "launch-\(type)"
                let count = perType[type]?.count ?? 0
                guard count > 0 else { continue }
                try tx.journalBatch(token: token, vendor: vendor, instanceType: type, count: count, registrationHash: "unused")
                try tx.markLaunchSent(token: token, spotRequestIDs: [])
            }
        }
        for start in stride(from: 0, to: instances, by: chunk) {
            try state.write { tx in
                for index in start..<min(instances, start + chunk) {
                    let id = instanceID(index)
                    try tx.registerInstance(id: id, vendor: vendor, instanceType: type(ofInstance: index),
                                            spotRequestID: "sir-" + id.dropFirst(2), batchToken: "launch-\(type(ofInstance: index))",
                                            tokenHash: TokenHash.sha256Hex(id))
                }
            }
        }
        var rng = PlannerWorld.Generator(state: 0x9E37_79B9_7F4A_7C15)
        let base = Date().addingTimeInterval(-Double(runs) / 100)
        for start in stride(from: 0, to: runs, by: chunk) {
            try state.write { tx in
                for index in start..<min(runs, start + chunk) {
                    let id = runID(index)
                    let requirements: ResourceRequirements
                    if index < instances {
                        requirements = ResourceRequirements(instanceType: type(ofInstance: index))
                    } else if Int.random(in: 0..<100, using: &rng) < 35 {
                        requirements = ResourceRequirements(instanceType: types[Int.random(in: 0..<types.count, using: &rng)])
                    } else {
                        let shapes = PlannerWorld.requirementShapes
                        requirements = shapes[Int.random(in: 0..<shapes.count, using: &rng)]
                    }
                    try tx.submitRun(id: id, workflow: nil, commands: ["true"], requirements: requirements, submittedBy: "admin",
                                     at: base.addingTimeInterval(Double(index) / 100))
                    if index < instances {
                        guard try tx.startAttempt(id, on: instanceID(index)) != nil, try tx.assign(runID: id, to: instanceID(index)) else {
                            throw BenchmarkError("could not start \(id) on \(instanceID(index))")
                        }
                    }
                }
            }
        }
    }
}

func benchmarkPassScale(instances: Int, runs: Int, passes: Int) async throws -> PassScaleResult {
    guard runs >= instances else { throw BenchmarkError("--runs must be at least --instances (one running run per instance)") }
    let scratch = try scratchDirectory("pass-scale")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let cloud = PassScaleWorld.cloud(instances: instances, launchedAt: Date().addingTimeInterval(-3600))
    let registry = ProviderRegistry([PassScaleWorld.plugin(cloud)])
    var options = ReconcilerOptions()
    options.heartbeatTimeout = 86_400
    options.provisioningTimeout = 86_400
    options.delivery = RunnerDelivery(advertiseURL: "https://dstack.invalid:3443", runnerBinaries: ["x86_64": String(repeating: "0", count: 64)])

    func workspace(_ name: String, databaseURL: DatabaseURL?) throws -> Workspace {
        let home = DstackHome(url: scratch.appendingPathComponent(name))
        let workspace = Workspace(home: home, registry: registry, environment: ["HOME": scratch.path], databaseURL: databaseURL)
        try home.prepare()
        try workspace.configStore.save(Configuration(activeVendor: PassScaleWorld.vendor, providers: [PassScaleWorld.vendor: [:]]))
        return workspace
    }

    let sqlite = try workspace("sqlite", databaseURL: nil)
    progress("pass-scale: filling SQLite (\(sqlite.home.stateFile.path)) with \(instances) instances and \(runs) runs")
    var start = monotonicNanoseconds()
    try PassScaleWorld.fill(try sqlite.state(), instances: instances, runs: runs)
    let fillSeconds = Double(monotonicNanoseconds() - start) / 1e9

    progress("pass-scale: starting a throwaway PostgreSQL 15")
    let postgres = try ThrowawayPostgres()
    defer { postgres.stop() }
    let url = try DatabaseURL(parsing: try postgres.makeDatabase("passscale"))
    let onPostgres = try workspace("postgres", databaseURL: url)
    progress("pass-scale: copying the state to Postgres (StateCopy, as migrate-state does)")
    start = monotonicNanoseconds()
    try StateCopy.copy(from: try sqlite.state(), to: try onPostgres.state())
    let copySeconds = Double(monotonicNanoseconds() - start) / 1e9

    var results: [PassScaleBackendResult] = []
    for (name, space) in [("SQLite", sqlite), ("PostgreSQL 15", onPostgres)] {
        let reconciler = Reconciler(workspace: space, options: options)
        progress("pass-scale: \(name): first pass")
        start = monotonicNanoseconds()
        let first = try await reconciler.reconcile()
        let firstSeconds = Double(monotonicNanoseconds() - start) / 1e9
        guard first.errors.isEmpty else { throw BenchmarkError("\(name): the first pass reported errors: \(first.errors.prefix(3))") }
        var steady: [Double] = []
        for pass in 1...passes {
            start = monotonicNanoseconds()
            let report = try await reconciler.reconcile()
            steady.append(Double(monotonicNanoseconds() - start) / 1e9)
            guard report.launched.isEmpty, report.assigned == 0, report.terminated.isEmpty, report.swept.isEmpty,
                  report.retried.isEmpty, report.errors.isEmpty else {
                throw BenchmarkError("\(name): pass \(pass) was not steady: \(report)")
            }
            progress(String(format: "pass-scale: \(name): pass %d took %.1f ms", pass, steady.last! * 1000))
        }
        let (waiting, busy) = try space.state().read { tx in
            (try tx.waitingRunSummaries().count, try tx.fleet(vendor: PassScaleWorld.vendor).filter { $0.phase == .busy }.count)
        }
        guard waiting == runs - instances, busy == instances else {
            throw BenchmarkError("\(name): after the passes \(waiting) runs wait and \(busy) instances are busy; "
                                 + "expected \(runs - instances) and \(instances)")
        }
        results.append(PassScaleBackendResult(backend: name, firstPassSeconds: firstSeconds, steadySeconds: steady, waitingRuns: waiting))
    }
    return PassScaleResult(instances: instances, runs: runs, fillSeconds: fillSeconds, copySeconds: copySeconds, backends: results)
}

private func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

func printPassScale(_ result: PassScaleResult) {
    let waiting = result.runs - result.instances
    print("pass-scale: one reconcile pass, \(result.instances) instances (all busy, every type at its max) and \(result.runs) runs "
          + "(\(result.instances) running, \(waiting) waiting), SQLite against PostgreSQL 15 in the same run")
    print(String(format: "  fill (SQLite, through StateTransaction): %.1f s; copy to Postgres (StateCopy): %.1f s",
                 result.fillSeconds, result.copySeconds))
    print("")
    print("| backend | first pass (\(waiting) runs made pending, reasons written) | steady pass median | p90 | max | passes |")
    print("|---|---|---|---|---|---|")
    for backend in result.backends {
        let ms = backend.steadySeconds.map { $0 * 1000 }
        print(String(format: "| %@ | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %d |", backend.backend, backend.firstPassSeconds * 1000,
                     percentile(ms, 0.5), percentile(ms, 0.9), ms.max() ?? .nan, ms.count))
    }
    if result.backends.count == 2 {
        let ratio = percentile(result.backends[1].steadySeconds, 0.5) / percentile(result.backends[0].steadySeconds, 0.5)
        print(String(format: "Postgres / SQLite, steady median: %.2f×", ratio))
    }
    print("every steady pass launched, assigned and terminated nothing (checked)")
}
