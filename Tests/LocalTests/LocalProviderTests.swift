@testable import DstackLocal
import DstackCore
import Foundation
import XCTest

final class LocalProviderTests: LocalProviderTestCase {
    func testTheLocalTypeHasThisMachinesFacts() async throws {
        let facts = try await provider.validateInstanceType("local")
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let memTotalKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?
            .split(separator: " ").dropFirst().first.flatMap { Int($0) }
        XCTAssertEqual(facts.name, "local")
        XCTAssertEqual(facts.vcpus, Int(try commandOutput("/usr/bin/getconf", ["_NPROCESSORS_ONLN"])))
        XCTAssertEqual(facts.memoryMiB, try XCTUnwrap(memTotalKiB) / 1024)
        XCTAssertEqual(facts.gpus, [])
        let machine = try commandOutput("/bin/uname", ["-m"])
        XCTAssertEqual(facts.architecture, machine == "aarch64" ? "arm64" : machine)
    }

    func testAnyOtherTypeIsUnsupportedAndStartsNothing() async throws {
        do {
            _ = try await provider.validateInstanceType("m5.large")
            XCTFail("m5.large was accepted")
        } catch ProviderError.unsupportedInstanceType(let name, let reason) {
            XCTAssertEqual(name, "m5.large")
            XCTAssertTrue(reason.contains("\"local\""), reason)
        }
        let good = try await request(userData: "", token: "t")
        do {
            _ = try await provider.requestSpot(SpotRequest(instanceType: "gpu", count: 1, userData: "", idempotencyToken: "u"))
            XCTFail("a spot request for an unsupported type succeeded")
        } catch ProviderError.unsupportedInstanceType(let name, _) {
            XCTAssertEqual(name, "gpu")
        }
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id), good.map(\.id), "only the good request started an instance")
    }

    func testTheSameTokenReturnsTheFirstLaunchAndStartsNothing() async throws {
        let first = try await request(count: 2, token: "launch-1")
        let again = try await request(count: 2, token: "launch-1")
        XCTAssertEqual(first.count, 2)
        XCTAssertEqual(Set(again.map(\.id)), Set(first.map(\.id)))
        let directories = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("local/instances").path)
        XCTAssertEqual(Set(directories), Set(first.map(\.id)))
        let other = try await request(count: 1, token: "launch-2")
        XCTAssertFalse(first.map(\.id).contains(other[0].id))
        let listed = try await provider.list()
        XCTAssertEqual(listed.count, 3)
    }

    func testConcurrentRequestsWithOneTokenLaunchOnce() async throws {
        let provider: LocalProvider = self.provider
        let same = SpotRequest(instanceType: "local", count: 2, userData: Self.execRunnerUserData, idempotencyToken: "same")
        async let first = provider.requestSpot(same)
        async let second = provider.requestSpot(same)
        let (a, b) = try await (first.instances, second.instances)
        XCTAssertEqual(Set(a.map(\.id)), Set(b.map(\.id)))
        let listed = try await provider.list()
        XCTAssertEqual(listed.count, 2)
    }

    func testIDsAreLocalAndEightHexDigits() async throws {
        let instances = try await request(count: 3)
        for instance in instances {
            XCTAssertNotNil(instance.id.range(of: "^local-[0-9a-f]{8}$", options: .regularExpression), instance.id)
            XCTAssertEqual(instance.instanceType, "local")
            XCTAssertNil(instance.spotRequestID)
        }
        XCTAssertEqual(Set(instances.map(\.id)).count, 3)
    }

    func testWithNoUserDataTheRunnerItselfIsTheInstance() async throws {
        let instance = try await request(userData: "")[0]
        let pid = try XCTUnwrap(instance.extras["pid"].flatMap { Int64($0) })
        await waitUntil("runner.json") { readRunnerRecord(instance.id) != nil }
        XCTAssertEqual(readRunnerRecord(instance.id)?["pid"]?.intValue, pid)
        XCTAssertEqual(readRunnerRecord(instance.id)?["instance_id"]?.stringValue, instance.id)
        let state = try await state(of: instance.id)
        XCTAssertEqual(state, .running)
    }

    func testUserDataRunsWithTheInstanceEnvironmentAndCanExecTheRunner() async throws {
        let userData = """
            #!/bin/sh
            echo "$DSTACK_INSTANCE_ID|$DSTACK_HOME|$DSTACK_RUNNER|${AWS_SECRET_ACCESS_KEY:-none}" > "$DSTACK_INSTANCE_DIR/env.txt"
            exec "$DSTACK_RUNNER" --instance-id "$DSTACK_INSTANCE_ID" --state-dir "$DSTACK_INSTANCE_DIR"
            """
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_SECRET_ACCESS_KEY"] = "must-not-reach-the-instance"
        let provider = LocalProvider(context: ProviderContext(installationID: "t", home: home, environment: environment))
        let instance = try await request(userData: userData, using: provider)[0]
        await waitUntil("the runner exec'd by the bootstrap to record itself") { readRunnerRecord(instance.id) != nil }

        let runner = try RunnerLocator.locate(environment: environment)
        let env = try String(contentsOf: instanceDirectory(instance.id).appendingPathComponent("env.txt"), encoding: .utf8)
        XCTAssertEqual(env, "\(instance.id)|\(home.path)|\(runner)|none\n")
        // exec keeps the pid: the instance's process is now the runner itself.
        XCTAssertEqual(readRunnerRecord(instance.id)?["pid"]?.intValue, instance.extras["pid"].flatMap { Int64($0) })
        let state = try await state(of: instance.id)
        XCTAssertEqual(state, .running)
    }

    func testTerminateStopsTheRunnerWithSIGTERMWithinTheGrace() async throws {
        let instance = try await request(userData: "")[0]
        await waitUntil("runner.json") { readRunnerRecord(instance.id) != nil }
        let pid = try XCTUnwrap(instance.extras["pid"].flatMap { Int32($0) })
        let started = Date()
        try await provider.terminate(TerminationTarget(instanceIDs: [instance.id]))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the runner exits on SIGTERM; no SIGKILL wait")
        XCTAssertTrue(isGone(pid))
        XCTAssertFalse(FileManager.default.fileExists(atPath: instanceDirectory(instance.id).path))
    }

    /// A runner told to stop while it is still starting must not lose the SIGTERM and
    /// sit out the grace period (the kit terminates right after the first list).
    func testTerminatingRightAfterLaunchNeedsNoSIGKILL() async throws {
        for (index, userData) in (Array(repeating: "", count: 10) + Array(repeating: Self.execRunnerUserData, count: 10)).enumerated() {
            let instance = try await request(userData: userData)[0]
            try await Task.sleep(nanoseconds: UInt64(index % 10) * 3_000_000) // land anywhere in start-up
            let pid = try XCTUnwrap(instance.extras["pid"].flatMap { pid_t($0) })
            let started = Date()
            try await provider.terminate(TerminationTarget(instanceIDs: [instance.id]))
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "SIGTERM was lost during start-up")
            var status: Int32 = 0
            XCTAssertEqual(waitpid(pid, &status, WNOHANG), -1, "terminate reaped its child: no zombie left")
        }
        let listed = try await provider.list()
        XCTAssertEqual(listed, [])
    }

    func testTerminateEscalatesToSIGKILLWhenSIGTERMIsIgnored() async throws {
        let stubborn = "#!/bin/sh\ntrap '' TERM\necho ready > \"$DSTACK_INSTANCE_DIR/ready\"\nwhile :; do sleep 1; done\n"
        let provider = makeProvider(terminationGrace: 1)
        let instance = try await request(userData: stubborn, using: provider)[0]
        let pid = try XCTUnwrap(instance.extras["pid"].flatMap { Int32($0) })
        await waitUntil("the trap to be set") {
            FileManager.default.fileExists(atPath: instanceDirectory(instance.id).appendingPathComponent("ready").path)
        }
        let started = Date()
        try await provider.terminate(TerminationTarget(instanceIDs: [instance.id]))
        let took = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(took, 1, "SIGKILL only after the grace period")
        XCTAssertLessThan(took, 5)
        XCTAssertTrue(isGone(pid), "the group leader was killed")
        XCTAssertFalse(ProcessProbe.groupExists(pid), "no living process of the group is left")
        let listed = try await provider.list()
        XCTAssertEqual(listed, [])
    }

    func testTerminatingUnknownGoneOrForeignIDsIsFine() async throws {
        let keep = try await request()[0]
        let outside = home.appendingPathComponent("local/keep.txt")
        try "x".write(to: outside, atomically: true, encoding: .utf8)
        try await provider.terminate(TerminationTarget(instanceIDs: ["local-deadbeef", "i-0123456789", "../keep.txt", ".."],
                                                       spotRequestIDs: ["sir-1"]))
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside.path))
        try await provider.terminate(TerminationTarget(instanceIDs: [keep.id]))
        try await provider.terminate(TerminationTarget(instanceIDs: [keep.id]))
        let listed = try await provider.list()
        XCTAssertEqual(listed, [])
    }

    func testListSkipsCorruptRecordsAndReportsTheRest() async throws {
        let good = try await request()[0]
        let instances = home.appendingPathComponent("local/instances")
        for (name, text) in [("local-0badf00d", "{not json"), ("local-0000beef", #"{"id": "local-0000beef"}"#),
                             ("local-00c0ffee", #"{"id": "local-deadbeef", "instance_type": "local", "#
                                + #""launch_time": "2024-01-01T00:00:00.000Z", "idempotency_token": "x"}"#),
                             ("not-an-instance", "{}")] {
            let directory = instances.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try text.write(to: directory.appendingPathComponent("instance.json"), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: instances.appendingPathComponent("local-00000001"),
                                                withIntermediateDirectories: true)
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id), [good.id])
        XCTAssertEqual(listed.first?.state, .running)
    }

    /// A launch that crashed between writing its record and spawning leaves a record
    /// with no pid: pending for a short while, then terminated so the core sweeps it.
    func testARecordWithoutAProcessIsPendingThenTerminated() async throws {
        let fresh = InstanceRecord(id: "local-0000000a", instanceType: "local", launchTime: Date(),
                                   idempotencyToken: "a", installationID: "t")
        var stale = fresh
        stale.id = "local-0000000b"
        stale.launchTime = Date().addingTimeInterval(-3600)
        let store = InstanceStore(home: home)
        for record in [fresh, stale] {
            try FileManager.default.createDirectory(atPath: store.directory(of: record.id), withIntermediateDirectories: true)
            try store.write(record)
        }
        let listed = try await provider.list()
        XCTAssertEqual(listed.map(\.id), ["local-0000000a", "local-0000000b"])
        XCTAssertEqual(listed.map(\.state), [.pending, .terminated])
        XCTAssertEqual(listed[1].launchTime.map { Int($0.timeIntervalSince1970) }, Int(stale.launchTime.timeIntervalSince1970))
    }

    func testAMissingRunnerIsAConfigurationError() async throws {
        let provider = makeProvider(runnerPath: "/nonexistent/dstack-runner")
        do {
            try await provider.verifyConfiguration()
            XCTFail("verify passed without a runner")
        } catch ProviderError.invalidConfiguration(let detail) {
            XCTAssertTrue(detail.contains("/nonexistent/dstack-runner"), detail)
        }
        do {
            _ = try await request(using: provider)
            XCTFail("launched without a runner")
        } catch ProviderError.invalidConfiguration {}
        let listed = try await provider.list()
        XCTAssertEqual(listed, [])
        try await self.provider.verifyConfiguration()
    }

    func testARecordsLaunchTimeReadsBackToTheMillisecond() throws {
        let launched = Date(timeIntervalSince1970: 1_795_000_000.123)
        let record = InstanceRecord(id: "local-0000000c", instanceType: "local", launchTime: launched,
                                    idempotencyToken: "c", installationID: "t")
        let read = try XCTUnwrap(InstanceRecord(json: try JSONValue.parse(record.json.serialized())))
        XCTAssertEqual(read.launchTime.timeIntervalSince1970, launched.timeIntervalSince1970, accuracy: 0.0005)
        // A time written without fractional seconds (by hand, say) still reads.
        var object = try XCTUnwrap(record.json.objectValue)
        object["launch_time"] = .string("2026-11-29T10:00:00Z")
        XCTAssertEqual(InstanceRecord(json: .object(object))?.launchTime.timeIntervalSince1970, 1_795_946_400)
    }
}
