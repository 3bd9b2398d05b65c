import DstackCore
import DstackTesting
import Foundation
import XCTest

/// What `dstack run` ships from the working directory, and how it is stored.
final class CodeShippingTests: XCTestCase {
    var root: URL!
    var temp: TempHome!

    override func setUp() {
        super.setUp()
        temp = TempHome()
        root = temp.url.appendingPathComponent("project")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        temp.cleanUp()
        super.tearDown()
    }

    private func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    @discardableResult
    private func git(_ arguments: String...) throws -> String {
        let result = try runCommand("/usr/bin/git", ["-C", root.path, "-c", "user.email=t@example.com", "-c", "user.name=t"] + arguments)
        XCTAssertEqual(result.status, 0, result.description)
        return result.stdout
    }

    private func paths(_ files: CodeFiles) -> [String] { files.files.map(\.path) }

    func testInAGitRepositoryTrackedFilesAsOnDiskAndUntrackedUnignoredOnesAreShipped() throws {
        try git("init", "-q")
        try write(".gitignore", "*.secret\nbuild/\n")
        try write("train.py", "print('committed')\n")
        try write("data/config.yaml", "old\n")
        try write("gone.txt", "deleted later\n")
        try git("add", ".")
        try git("commit", "-qm", "init")
        try write("data/config.yaml", "uncommitted change\n")
        try write("new.py", "untracked, not ignored\n")
        try write("key.secret", "ignored\n")
        try write("build/out.o", "ignored directory\n")
        try FileManager.default.removeItem(at: root.appendingPathComponent("gone.txt"))

        let files = try CodeFiles.collect(root: root.path)
        XCTAssertTrue(files.fromGit)
        XCTAssertEqual(paths(files), [".gitignore", "data/config.yaml", "new.py", "train.py"])
        XCTAssertEqual(files.files.first { $0.path == "data/config.yaml" }?.size, "uncommitted change\n".utf8.count)
    }

    func testDstackIgnoreAppliesInAGitRepositoryToo() throws {
        try git("init", "-q")
        try write("model.bin", "tracked but not wanted on the instance\n")
        try write("run.sh", "echo hi\n")
        try write(".dstackignore", "*.bin\n")
        try git("add", ".")
        try git("commit", "-qm", "init")
        XCTAssertEqual(paths(try CodeFiles.collect(root: root.path)), [".dstackignore", "run.sh"])
    }

    func testADirectoryItsRepositoryIgnoresIsShippedAsAPlainDirectory() throws {
        try git("init", "-q")
        try write(".gitignore", "scratch/\n")
        try write("scratch/project/main.py", "x\n")
        try write("scratch/project/run.log", "left out by its own .gitignore\n")
        try write("scratch/project/.gitignore", "*.log\n")
        let files = try CodeFiles.collect(root: root.appendingPathComponent("scratch/project").path)
        XCTAssertFalse(files.fromGit)
        XCTAssertEqual(paths(files), [".gitignore", "main.py"])
    }

    func testOutsideGitTheDirectoryIsShippedMinusIgnorePatternsAndNeverDotGit() throws {
        try write("main.py", "x\n")
        try write(".gitignore", "*.log\n/venv/\n")
        try write(".dstackignore", "data/\n!important.log\n")
        try write("run.log", "ignored\n")
        try write("important.log", "re-included by .dstackignore\n")
        try write("venv/lib.py", "ignored\n")
        try write("data/big.csv", "ignored\n")
        try write("sub/.gitignore", "local.cfg\n")
        try write("sub/local.cfg", "ignored by the nested file\n")
        try write("sub/code.py", "kept\n")
        try write(".git/config", "never shipped\n")
        let files = try CodeFiles.collect(root: root.path, git: nil)
        XCTAssertFalse(files.fromGit)
        XCTAssertEqual(paths(files), [".dstackignore", ".gitignore", "important.log", "main.py", "sub/.gitignore", "sub/code.py"])
    }

    /// A `git` that records each start and says "not a work tree".
    private func recordingGit() throws -> (path: String, marker: URL) {
        let marker = temp.url.appendingPathComponent("git-started")
        let path = temp.url.appendingPathComponent("recording-git").path
        try "#!/bin/sh\ntouch '\(marker.path)'\nexit 128\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return (path, marker)
    }

    func testWithNoDotGitHereOrAboveGitIsNotStarted() throws {
        try XCTSkipIf(CodeFiles.mayBeInGitWorkTree(temp.url.path), "the temporary directory is inside a git work tree")
        try write("main.py", "x\n")
        let git = try recordingGit()
        let files = try CodeFiles.collect(root: root.path, git: git.path)
        XCTAssertFalse(files.fromGit)
        XCTAssertEqual(paths(files), ["main.py"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: git.marker.path), "git was started outside any repository")
    }

    func testWithADotGitAboveGitIsAsked() throws {
        try write("sub/main.py", "x\n")
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".git"), withIntermediateDirectories: true)
        let git = try recordingGit()
        let files = try CodeFiles.collect(root: root.appendingPathComponent("sub").path, git: git.path)
        XCTAssertFalse(files.fromGit) // this git says "not a work tree": the directory is walked
        XCTAssertEqual(paths(files), ["main.py"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: git.marker.path), "git was not asked under a .git")
    }

    func testSymlinksAreShippedAsSymlinks() throws {
        try write("real.txt", "target\n")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link.txt").path, withDestinationPath: "real.txt")
        let store = CodeStore(home: temp.home)
        let code = try store.store(try CodeFiles.collect(root: root.path, git: nil))
        let listing = try runCommand("/usr/bin/tar", ["-tvzf", try XCTUnwrap(store.path(for: code.sha256))])
        XCTAssertTrue(listing.stdout.contains("link.txt -> real.txt"), listing.stdout)
    }

    func testTheArchiveIsDeterministicAndStoredOnceUnderItsHash() throws {
        try write("a.txt", "alpha\n")
        try write("dir/b.txt", "beta\n")
        try write(String(repeating: "long-name/", count: 12) + "c.txt", "a path past tar's 100 bytes\n")
        let store = CodeStore(home: temp.home)
        let first = try store.store(try CodeFiles.collect(root: root.path, git: nil))
        // Newer mtimes, same contents: the same bytes.
        Thread.sleep(forTimeInterval: 1.1)
        try write("a.txt", "alpha\n")
        let second = try store.store(try CodeFiles.collect(root: root.path, git: nil))
        XCTAssertEqual(first, second)
        let stored = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
        XCTAssertEqual(stored, ["\(first.sha256).tar.gz"], "one file, no temp files left")
        let path = try XCTUnwrap(store.path(for: first.sha256))
        XCTAssertEqual(temp.mode(of: path), 0o600)
        XCTAssertEqual(try FileDigest.sha256Hex(path: path), first.sha256)
        XCTAssertEqual(first.size, try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)

        try write("a.txt", "changed\n")
        let third = try store.store(try CodeFiles.collect(root: root.path, git: nil))
        XCTAssertNotEqual(third.sha256, first.sha256)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.directory.path).count, 2)
    }

    func testTheArchiveUnpacksWithTheInstancesTarToTheSameFilesModesAndLinks() throws {
        let long = String(repeating: "deep-directory/", count: 9) + "past-one-hundred-bytes.txt"
        try write("run.sh", "#!/bin/sh\necho hi\n")
        chmod(root.appendingPathComponent("run.sh").path, 0o775)
        try write(long, "a name GNU tar writes as a ././@LongLink entry\n")
        try write("empty.txt", "")
        try write("big.bin", String(repeating: "0123456789abcdef", count: 20_000)) // several 64 KiB reads
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("to-long").path, withDestinationPath: long)
        let files = try CodeFiles.collect(root: root.path, git: nil)
        let archive = try PackedCodeArchive(files)
        let packed = temp.url.appendingPathComponent("code.tar.gz")
        try Data(archive.bytes).write(to: packed)
        XCTAssertEqual(archive.shipped.sha256, try FileDigest.sha256Hex(path: packed.path))

        let out = temp.url.appendingPathComponent("unpacked")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let unpack = try runCommand("/usr/bin/tar", ["-xzf", packed.path, "-C", out.path])
        XCTAssertEqual(unpack.status, 0, unpack.description)
        XCTAssertEqual(unpack.stderr, "", "tar warns about nothing (checksums, headers, trailing garbage)")
        for file in files.files where file.path != "to-long" {
            XCTAssertEqual(FileManager.default.contents(atPath: out.appendingPathComponent(file.path).path),
                           FileManager.default.contents(atPath: root.appendingPathComponent(file.path).path), file.path)
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: out.appendingPathComponent("to-long").path), long)
        // u+rw, go-w, the executable bits kept: what --mode=u+rw,go-w gave.
        XCTAssertEqual(temp.mode(of: out.appendingPathComponent("run.sh").path), 0o755)
        let listing = try runCommand("/usr/bin/tar", ["--numeric-owner", "-tvzf", packed.path])
        XCTAssertTrue(listing.stdout.contains("0/0"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("1970-01-01"), "mtime 0: \(listing.stdout)")
        XCTAssertEqual(try PackedCodeArchive(files).bytes, archive.bytes, "packing again gives the same bytes")
    }

    func testTheStoreOnlyNamesHashes() {
        let store = CodeStore(home: temp.home)
        XCTAssertNil(store.path(for: "../state.db"))
        XCTAssertNil(store.path(for: String(repeating: "A", count: 64)))
        XCTAssertNotNil(store.path(for: String(repeating: "a", count: 64)))
    }

    func testOverTheLimitListsTheFiveBiggestFiles() throws {
        for (index, size) in [10, 500, 30, 700, 20, 900, 40].enumerated() {
            try write("f\(index).bin", String(repeating: "x", count: size))
        }
        let files = try CodeFiles.collect(root: root.path, git: nil)
        XCTAssertNoThrow(try CodeTooLarge.check(files, limit: 0), "0 is no limit")
        XCTAssertNoThrow(try CodeTooLarge.check(files, limit: files.totalSize))
        XCTAssertThrowsError(try CodeTooLarge.check(files, limit: 1000)) { error in
            guard let tooLarge = error as? CodeTooLarge else { return XCTFail("\(error)") }
            XCTAssertEqual(tooLarge.biggest.map(\.path), ["f5.bin", "f3.bin", "f1.bin", "f6.bin", "f2.bin"])
            XCTAssertEqual(tooLarge.lines.count, 6)
            XCTAssertTrue(tooLarge.lines[0].hasPrefix("the code to ship is 2.1 KB, over the 1000 B limit"), tooLarge.lines[0])
        }
    }

    func testSizesForTheLimit() {
        XCTAssertEqual(ByteSize.parse("100MB"), 100 * 1024 * 1024)
        XCTAssertEqual(ByteSize.parse("500"), 500 * 1024 * 1024, "a bare number is MB")
        XCTAssertEqual(ByteSize.parse("1GB"), 1024 * 1024 * 1024)
        XCTAssertEqual(ByteSize.parse("0"), 0)
        XCTAssertNil(ByteSize.parse("lots"))
        XCTAssertEqual(ByteSize.format(512), "512 B")
        XCTAssertEqual(ByteSize.format(150 * 1024 * 1024), "150 MB")
        XCTAssertEqual(ByteSize.format(1536), "1.5 KB")
    }
}
