import DstackCore
import DstackTesting
import Foundation
import XCTest

/// `dstack run` end to end on the local provider: what a run carries (env, the
/// project's code) and whether it may start at all.
final class RunSubmissionTests: CLITestCase {
    @discardableResult
    private func startLocalServer() throws -> ServerProcess {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        return try startServer()
    }

    private func write(_ path: String, _ text: String) throws {
        let url = workingDirectory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    @discardableResult
    private func git(_ arguments: String...) throws -> CommandResult {
        let result = try runCommand("/usr/bin/git", ["-C", workingDirectory.path, "-c", "user.email=t@example.com",
                                                     "-c", "user.name=t"] + arguments)
        XCTAssertEqual(result.status, 0, result.description)
        return result
    }

    private var storedArchives: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("code").path)) ?? []
    }

    // MARK: runs that cannot start

    func testARunThatFitsNothingExitsAtOnceWithThePlannersReasonAndIsNotQueued() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        try write("train.py", "code that must not be stored for a refused run\n")
        try fails(["run", "--memory", "9999GB", "--", "true"],
                  saying: "dstack: no allowed instance type has 9999 GB memory; the run was not submitted (dstack run --wait queues it")
        try fails(["run", "--gpu", "1", "--", "true"], saying: "no allowed instance type has 1 GPU; the run was not submitted")
        try fails(["run", "--instance-type", "p3.2xlarge", "--", "true"],
                  saying: "no rule allows p3.2xlarge; run 'dstack autoscale allow p3.2xlarge --max N'; the run was not submitted")
        try ok("autoscale", "disable")
        try fails(["run", "--", "true"], saying: "autoscaling is disabled; run 'dstack autoscale enable'; the run was not submitted")
        XCTAssertEqual(try ok("ps", "--all", "--json"), "[]\n")
        XCTAssertEqual(storedArchives, [], "a refused run stores no code")
    }

    func testWithWaitAnImpossibleRunIsQueuedAndSaysWhy() throws {
        let server = try startLocalServer()
        let id = try submit("--wait", "--memory", "9999GB", "--", "true", server: server)
        try eventually("the run to say why it waits") {
            try run(id)?["reason"]?.stringValue == "no allowed instance type has 9999 GB memory"
        }
        XCTAssertEqual(try status(id), "pending")
        XCTAssertTrue(try ok("ps").contains("no allowed instance type has 9999 GB memory"))
    }

    // MARK: env

    func testTheWorkflowsEnvAsAMapOrAListAndEnvFlagsReachTheCommands() throws {
        _ = try startLocalServer()
        try write(".dstack/workflows.yaml", """
            workflows:
              - name: mapped
                env:
                  FOO: bar
                  GREETING: hello world
                commands:
                  - echo "FOO=$FOO GREETING=$GREETING"
              - name: listed
                env:
                  - FOO=from-list
                  - KEEP=kept
                commands:
                  - echo "FOO=$FOO KEEP=$KEEP"
            """)
        let mapped = try dstack("run", "mapped")
        XCTAssertEqual(mapped.status, 0, mapped.description)
        XCTAssertTrue(mapped.stdout.contains("FOO=bar GREETING=hello world\n"), mapped.stdout)
        let listed = try dstack("run", "--env", "FOO=from-flag", "listed")
        XCTAssertEqual(listed.status, 0, listed.description)
        XCTAssertTrue(listed.stdout.contains("FOO=from-flag KEEP=kept\n"), "--env wins over the workflow's env: \(listed.stdout)")
        let adHoc = try dstack("run", "--env", "A=1", "--env", "B=two words", "--", "sh", "-c", "echo $A $B")
        XCTAssertEqual(adHoc.status, 0, adHoc.description)
        XCTAssertTrue(adHoc.stdout.contains("1 two words\n"), adHoc.stdout)
        try fails(["run", "--env", "NOEQUALS", "--", "true"], saying: "--env: 'NOEQUALS' is not KEY=VALUE")
    }

    func testABareMemoryNumberInAWorkflowIsGigabytes() throws {
        try ok("local", "configure")
        try write(".dstack/workflows.yaml", "workflows:\n  - name: w\n    commands: [x]\n    resources:\n      memory: 16\n      disk: 100\n")
        let id = try ok("run", "-d", "--wait", "w").trimmingCharacters(in: .whitespacesAndNewlines)
        let requirements = try openState().read { try $0.run(id)?.requirements }
        XCTAssertEqual(requirements, ResourceRequirements(memoryMiB: 16384, diskGB: 100))
    }

    func testAnImageKeyIsRefusedWithItsLine() throws {
        try ok("local", "configure")
        try write(".dstack/workflows.yaml", "workflows:\n  - name: w\n    image: python:3.11\n    commands: [x]\n")
        try fails(["run", "w"], saying: "dstack: .dstack/workflows.yaml:3: 'image' is not supported by this dstack")
        XCTAssertEqual(try ok("ps", "--all", "--json"), "[]\n")
    }

    // MARK: code

    func testAWorkflowFromAGitRepositorySeesTheWorkingTreeNotIgnoredFilesAndIdenticalCodeIsStoredOnce() throws {
        _ = try startLocalServer()
        try git("init", "-q")
        try write(".gitignore", "*.secret\n")
        try write("committed.txt", "committed\n")
        try write("changed.txt", "as committed\n")
        try write(".dstack/workflows.yaml", """
            workflows:
              - name: show
                commands:
                  - cat committed.txt changed.txt untracked.txt
                  - if [ -e key.secret ]; then echo LEAKED; else echo no-secret; fi
                  - if [ -e .git ]; then echo GIT-SHIPPED; else echo no-git; fi
            """)
        try git("add", ".")
        try git("commit", "-qm", "init")
        try write("changed.txt", "uncommitted change\n")
        try write("untracked.txt", "untracked\n")
        try write("key.secret", "must stay here\n")

        let first = try dstack("run", "show")
        XCTAssertEqual(first.status, 0, first.description)
        XCTAssertTrue(first.stdout.contains("committed\nuncommitted change\nuntracked\nno-secret\nno-git\n"), first.stdout)
        XCTAssertEqual(storedArchives.count, 1)

        let second = try dstack("run", "show")
        XCTAssertEqual(second.status, 0, second.description)
        XCTAssertEqual(storedArchives.count, 1, "identical code is stored once: \(storedArchives)")
        let ids = try runs().compactMap { $0["id"]?.stringValue }
        let hashes = try openState().read { tx in try ids.map { try tx.run($0)?.code?.sha256 } }
        XCTAssertEqual(Set(hashes).count, 1)
        XCTAssertEqual(storedArchives.first, hashes.first!.map { "\($0).tar.gz" })
    }

    func testNoCodeAndAnEmptyDirectoryShipNothing() throws {
        _ = try startLocalServer()
        let empty = try dstack("run", "--", "sh", "-c", "ls -A | wc -l")
        XCTAssertEqual(empty.status, 0, empty.description)
        try write("file.txt", "x\n")
        let none = try dstack("run", "--no-code", "--", "sh", "-c", "ls -A | wc -l")
        XCTAssertEqual(none.status, 0, none.description)
        for result in [empty, none] {
            XCTAssertEqual(result.stdout.split(separator: "\n").dropFirst().first?.trimmingCharacters(in: .whitespaces), "0",
                           result.stdout)
        }
        XCTAssertEqual(storedArchives, [])
    }

    func testCodeOverTheLimitExitsWithOneSentenceAndTheFiveBiggestFiles() throws {
        try ok("local", "configure")
        try ok("autoscale", "allow", "local", "--max", "1")
        for (name, size) in [("a.bin", 3000), ("b.bin", 9000), ("c.bin", 1000), ("d.bin", 7000), ("e.bin", 5000), ("f.bin", 500)] {
            try write("data/" + name, String(repeating: "x", count: size))
        }
        let result = try dstack("run", "--max-code-size", "10KB", "--", "true")
        XCTAssertEqual(result.status, 1, result.description)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6, result.stderr)
        XCTAssertTrue(lines[0].hasPrefix("dstack: the code to ship is 24.9 KB, over the 10.0 KB limit of --max-code-size"), lines[0])
        XCTAssertEqual(lines.dropFirst().map { $0.split(separator: " ").last.map(String.init) },
                       ["data/b.bin", "data/d.bin", "data/e.bin", "data/a.bin", "data/c.bin"])
        XCTAssertTrue(lines[1].contains("8.8 KB"), lines[1])
        XCTAssertEqual(try ok("ps", "--all", "--json"), "[]\n")
        XCTAssertEqual(storedArchives, [])
        try fails(["run", "--max-code-size", "huge", "--", "true"], saying: "--max-code-size must be a size such as 100MB")
        // 0 is no limit.
        XCTAssertEqual(try dstack("run", "-d", "--max-code-size", "0", "--", "true").status, 0)
        XCTAssertEqual(storedArchives.count, 1)
    }
}
