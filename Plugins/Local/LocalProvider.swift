import DstackProvider
import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Instances on this machine: each one a process group started detached, running the
/// launch's user data with /bin/sh (or, with no user data, `dstack-runner` itself).
/// An instance is running while its group leader lives; a bootstrap that exits means
/// the machine is gone, so a bootstrap that should stay up must `exec "$DSTACK_RUNNER"`.
public struct LocalProvider: CloudProvider {
    /// The one instance type: this machine.
    public static let instanceTypeName = "local"
    /// A record still without a pid is a launch in progress for this long; after that,
    /// a launch that crashed midway, reported as terminated so the core cleans it up.
    static let launchWindow: TimeInterval = 30
    /// How long to wait for a group to vanish after SIGKILL before giving up on it.
    static let killWait: TimeInterval = 2

    private let context: ProviderContext
    private let store: InstanceStore
    private let runnerPath: String?
    private let terminationGrace: TimeInterval
    /// Launches record the instance and write its user data, and start nothing: a load
    /// test runs the instances' runners itself (SimulatedInstances.swift). Off by default.
    public let simulated: Bool
    /// A stand-in metadata service; each instance's runner gets `URL/ID` (LocalMetadataURL.swift).
    public let metadataURL: String?

    /// `runnerPath` overrides where `dstack-runner` is looked for; `terminationGrace` is
    /// how long terminate waits after SIGTERM before SIGKILL.
    public init(context: ProviderContext, runnerPath: String? = nil, terminationGrace: TimeInterval = 10,
                simulated: Bool = false, metadataURL: String? = nil) {
        self.metadataURL = metadataURL
        self.context = context
        self.store = InstanceStore(home: context.home)
        self.runnerPath = runnerPath
        self.terminationGrace = terminationGrace
        self.simulated = simulated
    }

    public func verifyConfiguration() async throws {
        try store.prepare()
        if !simulated { _ = try runner() }
    }

    public func validateInstanceType(_ name: String) async throws -> InstanceTypeFacts {
        guard name == Self.instanceTypeName else {
            throw ProviderError.unsupportedInstanceType(
                name: name, reason: "the local provider offers only the instance type \"\(Self.instanceTypeName)\" (this machine)")
        }
        return MachineFacts.instanceType(named: name)
    }

    public func requestSpot(_ request: SpotRequest) async throws -> SpotLaunch {
        _ = try await validateInstanceType(request.instanceType)
        guard request.count >= 1 else {
            throw ProviderError.cloud(code: "InvalidParameterValue", detail: "count must be at least 1, not \(request.count)")
        }
        let runner = simulated ? "" : try runner()
        let records: [InstanceRecord] = try store.withLaunchLock {
            // Holding the lock, no launch is under way: what one left half done, it left
            // because its process died (the server killed mid-launch). Nothing of it may
            // stay unknown to `list`, or it would outlive every sweep.
            store.removeLaunchDebris()
            var earlier: [InstanceRecord] = []
            if !request.idempotencyToken.isEmpty {
                earlier = try store.allRecords().filter { $0.idempotencyToken == request.idempotencyToken }
                    .compactMap { try completeInterrupted($0) }
                if earlier.count >= request.count { return earlier }
            }
            // The rest of the launch: all of it, or what a launch with this token that
            // died midway did not get to (a resend completes it; it never doubles it).
            var launched: [InstanceRecord] = []
            do {
                while earlier.count + launched.count < request.count { launched.append(try launch(request, runner: runner)) }
            } catch {
                launched.forEach(discard)
                throw error
            }
            return earlier + launched
        }
        return SpotLaunch(spotRequestIDs: [], instances: records.map(managedInstance))
    }

    public func terminate(_ target: TerminationTarget) async throws {
        // Local instances have no spot requests; IDs that are not ours are already gone.
        let ids = Set(target.instanceIDs).filter(store.exists).sorted()
        let groups = ids.compactMap { store.record($0).map(withFoundLeader) }.filter(isGroupAlive)
        groups.forEach { ProcessProbe.signalGroup($0.pid!, startTicks: $0.pidStartTicks, SIGTERM) }
        let stubborn = await waitUntilGone(groups, for: terminationGrace)
        stubborn.forEach { ProcessProbe.signalGroup($0.pid!, startTicks: $0.pidStartTicks, SIGKILL) }
        _ = await waitUntilGone(stubborn, for: Self.killWait)
        ids.forEach(store.remove)
    }

    public func list(known: KnownResources) async throws -> [ManagedInstance] {
        // The instance directories are the whole truth here; `known` adds nothing.
        store.allRecords().map { managedInstance(withFoundLeader($0)) }
    }

    // MARK: - Launching

    private func launch(_ request: SpotRequest, runner: String) throws -> InstanceRecord {
        let id = try store.makeInstanceDirectory()
        var record = InstanceRecord(id: id, instanceType: request.instanceType, launchTime: Date(),
                                    idempotencyToken: request.idempotencyToken,
                                    installationID: context.installationID, simulated: simulated)
        do {
            try store.write(record) // intent first: a crash after spawning still leaves a trace
            if simulated {
                // The user data is written last: its file appearing tells the load test
                // that the instance is recorded and its runner may start.
                if !request.userData.isEmpty { _ = try store.writeUserData(request.userData, for: id) }
                return record
            }
            let directory = store.directory(of: id)
            var process = ChildProcess(
                executable: runner, arguments: ["--instance-id", id, "--state-dir", directory],
                environment: instanceEnvironment(id: id, directory: directory, runner: runner),
                workingDirectory: directory, logPath: store.path(InstanceStore.logFile, of: id))
            if !request.userData.isEmpty {
                process.executable = "/bin/sh"
                process.arguments = [try store.writeUserData(request.userData, for: id)]
            }
            let pid: pid_t
            do {
                pid = try process.spawn()
            } catch {
                throw ProviderError.cloud(code: "SpawnFailed", detail: error.description)
            }
            record.pid = pid
            record.pidStartTicks = ProcessProbe.startTicks(of: pid)
            try store.write(record)
            return record
        } catch {
            discard(record)
            throw error
        }
    }

    /// A record from an earlier launch with the same token, as a resend returns it. One
    /// without a pid is a launch that died between writing the record and writing the
    /// pid (this runs under the launch lock, so none is under way): if its process was
    /// started it is found and written down, so that it is running, not "pending" and
    /// then "terminated" while its runner works, and terminate can stop it; if it never
    /// was, the record is discarded (nil) and the caller launches in its place.
    private func completeInterrupted(_ record: InstanceRecord) throws -> InstanceRecord? {
        guard !record.simulated, record.pid == nil else { return record }
        let found = withFoundLeader(record)
        guard found.pid != nil else {
            discard(record)
            return nil
        }
        try store.write(found)
        return found
    }

    /// The record with its process's pid filled in when the record lacks it and the
    /// process can be found (ProcessProbe.instanceLeader); otherwise as it is.
    private func withFoundLeader(_ record: InstanceRecord) -> InstanceRecord {
        guard !record.simulated, record.pid == nil,
              let leader = ProcessProbe.instanceLeader(instanceID: record.id, directory: store.directory(of: record.id))
        else { return record }
        var found = record
        found.pid = leader.pid
        found.pidStartTicks = leader.startTicks
        return found
    }

    /// Undoes a launch that cannot be completed or reported.
    private func discard(_ record: InstanceRecord) {
        if let pid = record.pid {
            ProcessProbe.signalGroup(pid, startTicks: record.pidStartTicks, SIGKILL)
            ProcessProbe.reap(pid)
        }
        store.remove(record.id)
    }

    /// What a freshly booted machine would have, plus where it is and what it is: no
    /// variable of the control plane (credentials least of all) leaks into an instance.
    private func instanceEnvironment(id: String, directory: String, runner: String) -> [String: String] {
        var environment = context.environment.filter {
            ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"].contains($0.key)
        }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["DSTACK_INSTANCE_ID"] = id
        environment["DSTACK_INSTANCE_DIR"] = directory
        environment["DSTACK_HOME"] = context.home.path
        environment["DSTACK_RUNNER"] = runner
        // There is no machine to power off: an orphaned local runner just exits.
        environment["DSTACK_ORPHAN_ACTION"] = "exit"
        if let metadataURL { environment["DSTACK_METADATA_URL"] = "\(metadataURL)/\(id)" }
        return environment
    }

    private func runner() throws -> String {
        var environment = context.environment
        if let runnerPath { environment[RunnerLocator.overrideVariable] = runnerPath }
        return try RunnerLocator.locate(environment: environment)
    }

    // MARK: - Liveness

    private func managedInstance(_ record: InstanceRecord) -> ManagedInstance {
        var extras = ["directory": store.directory(of: record.id), "log": store.path(InstanceStore.logFile, of: record.id)]
        extras["pid"] = record.pid.map { String($0) }
        return ManagedInstance(id: record.id, instanceType: record.instanceType, state: state(of: record),
                               launchTime: record.launchTime, extras: extras)
    }

    private func state(of record: InstanceRecord) -> InstanceState {
        if record.simulated { return .running } // until terminated: no process to outlive
        guard let pid = record.pid else {
            return Date().timeIntervalSince(record.launchTime) < Self.launchWindow ? .pending : .terminated
        }
        return ProcessProbe.isLeaderAlive(pid: pid, startTicks: record.pidStartTicks) ? .running : .terminated
    }

    private func isGroupAlive(_ record: InstanceRecord) -> Bool {
        guard let pid = record.pid else { return false }
        if let ticks = record.pidStartTicks, let stat = ProcessProbe.readStat(pid), stat.startTicks != ticks {
            return false // the pid is someone else's now; our group is long gone
        }
        return ProcessProbe.groupExists(pid)
    }

    /// Polls until every group is gone or the time is up; returns those still there.
    private func waitUntilGone(_ records: [InstanceRecord], for seconds: TimeInterval) async -> [InstanceRecord] {
        let deadline = Date().addingTimeInterval(seconds)
        var remaining = records
        while !remaining.isEmpty {
            remaining = remaining.filter(isGroupAlive)
            guard !remaining.isEmpty, Date() < deadline else { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return remaining
    }
}
