@testable import DstackLocal
import DstackCore
import DstackWire
import Foundation
import XCTest

/// An instance must start like a machine boots, whatever state its starter is in: its
/// own session, default signal handling, and none of the starter's descriptors. A
/// program run to its end gives its exit status and its output, and stays in our session.
final class ChildProcessTests: XCTestCase {
    private var directory: URL!
    private var child: pid_t = 0

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-spawn-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if child > 0 {
            kill(-child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    func testTheChildGetsItsOwnSessionCleanSignalsAndOnlyStandardDescriptors() throws {
        // What a server (dispatch-source signal handling) or Foundation.Process leave behind:
        // a blocked SIGTERM, an ignored signal, a descriptor without close-on-exec.
        var pipeEnds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&pipeEnds), 0)
        defer { pipeEnds.forEach { close($0) } }
        var blockTerm = sigset_t()
        sigemptyset(&blockTerm)
        sigaddset(&blockTerm, SIGTERM)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blockTerm, &previousMask)
        let previousUSR2 = signal(SIGUSR2, SIG_IGN)
        let log = directory.appendingPathComponent("out.log").path
        let spawned = Result {
            try ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo booted; exec sleep 30"],
                                environment: ["PATH": "/usr/bin:/bin"], workingDirectory: directory.path,
                                logPath: log).spawn()
        }
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        signal(SIGUSR2, previousUSR2)
        child = try spawned.get()

        let stat = try XCTUnwrap(ProcessProbe.readStat(child))
        XCTAssertEqual(stat.group, child, "the child leads its own process group")
        XCTAssertEqual(getsid(child), child, "and its own session")

        let deadline = Date().addingTimeInterval(10)
        while (try? String(contentsOfFile: log, encoding: .utf8)) != "booted\n" && Date() < deadline {
            usleep(20_000)
        }
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "booted\n", "stdout goes to the log")

        let status = try String(contentsOfFile: "/proc/\(child)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("SigBlk:\t0000000000000000"), status)
        // glibc's posix_spawn leaves its two internal real-time signals (32, 33) ignored;
        // none of the standard ones may be.
        let ignored = status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
            .flatMap { UInt64($0.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) }
        XCTAssertEqual(try XCTUnwrap(ignored) & 0x7fff_ffff, 0, status)
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child)/fd").compactMap { Int($0) }
        XCTAssertEqual(descriptors.sorted(), [0, 1, 2])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/fd/0"), "/dev/null")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/fd/2"), log)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/cwd"), directory.path)
    }

    func testAnInstanceThatExitsIsReapedWithoutAnyoneLookingAtIt() throws {
        let pid = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 0"], environment: [:],
                                      workingDirectory: directory.path, logPath: directory.path + "/log").spawn()
        // Nobody lists or terminates it: a zombie would stay in /proc as "Z" for as long as we live.
        let deadline = Date().addingTimeInterval(10)
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/proc/\(pid)"),
                       "still in /proc: \(ProcessProbe.readStat(pid).map { String($0.state) } ?? "?")")
    }

    func testAMissingExecutableIsOneSentenceNamingIt() {
        XCTAssertThrowsError(try ChildProcess(executable: "/nonexistent/runner", arguments: [], environment: [:],
                                                 workingDirectory: "/", logPath: directory.path + "/log").spawn()) { error in
            XCTAssertEqual("\(error)", "cannot start /nonexistent/runner: No such file or directory")
        }
    }

    func testAProgramRunToItsEndGivesItsStatusAndItsOutputAndStaysInOurSession() throws {
        let output = directory.appendingPathComponent("out").path
        try "stale lines from an earlier run\n".write(toFile: output, atomically: true, encoding: .utf8)
        let status = try ChildProcess(running: "/bin/sh", ["-c", "pwd; [ \"$(ps -o sid= -p $$)\" -eq \"$0\" ] && echo same-session; echo oops >&2; exit 3",
                                                       String(getsid(0))],
                                      environment: ["PATH": "/usr/bin:/bin"], workingDirectory: directory.path,
                                      outputPath: output).runToExit()
        XCTAssertEqual(status, 3)
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "\(directory.path)\nsame-session\noops\n",
                       "stdout and stderr, in the given directory, written afresh")
    }

    func testAProgramEndedBySignalReportsOneHundredTwentyEightPlusTheSignal() throws {
        let status = try ChildProcess(running: "/bin/sh", ["-c", "kill -TERM $$"], environment: [:],
                                      outputPath: directory.appendingPathComponent("out").path).runToExit()
        XCTAssertEqual(status, 128 + SIGTERM)
    }
}
