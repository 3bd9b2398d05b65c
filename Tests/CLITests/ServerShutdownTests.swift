import DstackCore
import DstackTesting
import Foundation
import XCTest

/// SIGTERM to `dstack server` is a graceful shutdown: the reconcile pass in flight is not
/// cut short, so a cloud call it journaled completes and is recorded before the process
/// exits 0.
final class ServerShutdownTests: CLITestCase {
    func testASIGTERMArrivingWhileALaunchIsInFlightLetsThePassFinishAndRecordIt() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        // The local provider launches under `local/launch.lock`; holding it keeps the
        // server's launch call in flight for as long as the test likes.
        let launchLock = try HeldFileLock(path: home.appendingPathComponent("local/launch.lock").path)
        let server = try startServer("--max-provisioning-attempts", "1")
        let id = try submit("--", "true", server: server)
        let state = try openState()
        try eventually("the launch to be journaled and sent") {
            try state.read { try $0.launches(vendor: "local") }.map(\.status) == [.intent]
        }

        // The blocked launch holds one of NIO's blocking-pool threads (the reconcile loop's
        // own pool, "TP-#n", or the shared one, "SGLTN-TP-#n"), not one of Swift's
        // cooperative threads. (Read from /proc where the kernel shows the
        // wait channel; elsewhere this check has nothing to look at.)
        var blockedThreads: [String] = []
        let deadline = Date().addingTimeInterval(10)
        while blockedThreads.isEmpty && Date() < deadline {
            blockedThreads = Self.threadsWaitingOnAFileLock(pid: server.process.processIdentifier)
            if blockedThreads.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
        }
        for name in blockedThreads {
            XCTAssertTrue(name.hasPrefix("TP-#") || name.hasPrefix("SGLTN-TP-"),
                          "the launch blocks thread \(name), not one of NIO's thread pool")
        }

        kill(server.process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertTrue(server.process.isRunning, "the server exited with its launch call still in flight: \(server.output)")
        launchLock.release()

        try eventually("the server to exit after its pass", timeout: 30) { !server.process.isRunning }
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
        XCTAssertTrue(server.output.contains("requested 1 local for \(id) (launch dstack-"), server.output)
        XCTAssertTrue(server.output.hasSuffix("dstack server stopped\n"), server.output)
        let launches = try state.read { try $0.launches(vendor: "local") }
        XCTAssertEqual(launches.map(\.status), [.sent], "the launch is recorded as done, not left as an intent")
        let instances = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("local/instances").path)
        XCTAssertEqual(instances.count, 1, "the launch the pass finished started its instance")
    }

    /// The names of the process's threads asleep in the kernel's file-lock wait.
    private static func threadsWaitingOnAFileLock(pid: Int32) -> [String] {
        let tasks = "/proc/\(pid)/task"
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return ids.compactMap { id in
            let read = { (name: String) in
                (try? String(contentsOfFile: "\(tasks)/\(id)/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            }
            return read("wchan").contains("lock_inode_wait") || read("wchan").contains("lock_file_wait") ? read("comm") : nil
        }
    }
}

/// An exclusive `flock` on a file, held until `release()` (or deinit).
final class HeldFileLock {
    private var fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}
