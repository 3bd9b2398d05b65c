@testable import DstackLocal
import DstackCore
import Foundation
import XCTest

/// Instances spawned by one process (the server) are terminated by another (the CLI),
/// which cannot reap them: a runner that exited on SIGTERM stays a zombie until its
/// parent waits for it. Terminate must see it as gone, not sit out the grace period.
final class ForeignParentTests: LocalProviderTestCase {
    private var parent: Process?

    override func tearDown() async throws {
        if let parent, parent.isRunning {
            // SIGKILL: Foundation starts children with most signals blocked, SIGTERM too.
            kill(parent.processIdentifier, SIGKILL)
            parent.waitUntilExit()
        }
        try await super.tearDown()
    }

    func testAZombieInstanceWhoseParentDoesNotReapItIsGoneAtOnce() async throws {
        // `sleep` never waits for children: the setsid'd shell that exits stays a zombie
        // session leader, just like a runner whose server has not reaped it yet.
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", #"(exec setsid sh -c "exit 0") & echo $!; exec sleep 30"#]
        let output = Pipe()
        parent.standardOutput = output
        try parent.run()
        self.parent = parent
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        let zombie = try XCTUnwrap(pid_t(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        await waitUntil("the orphaned leader to become a zombie") { ProcessProbe.readStat(zombie)?.state == "Z" }
        XCTAssertEqual(kill(-zombie, 0), 0, "kill() alone still finds the zombie's group")
        XCTAssertFalse(ProcessProbe.groupExists(zombie))

        let store = InstanceStore(home: home)
        let record = InstanceRecord(id: "local-00000abc", instanceType: "local", launchTime: Date(),
                                    idempotencyToken: "t", installationID: "t",
                                    pid: zombie, pidStartTicks: ProcessProbe.startTicks(of: zombie))
        try FileManager.default.createDirectory(atPath: store.directory(of: record.id), withIntermediateDirectories: true)
        try store.write(record)
        let state = try await self.state(of: record.id)
        XCTAssertEqual(state, .terminated)

        let started = Date()
        try await makeProvider(terminationGrace: 5).terminate(TerminationTarget(instanceIDs: [record.id]))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "no wait for a group with nothing alive in it")
        XCTAssertFalse(store.exists(record.id))
    }
}
