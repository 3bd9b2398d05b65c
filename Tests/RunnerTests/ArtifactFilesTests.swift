@testable import DstackRunnerKit
import Foundation
import XCTest

/// Which files a run's artifact paths name: directories recursively, missing paths
/// noted, and nothing outside the working directory ever taken.
final class ArtifactFilesTests: XCTestCase {
    private var directory: String!

    override func setUp() {
        super.setUp()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("artifact-files-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }

    private func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: directory + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    private func link(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: directory + "/" + path, withDestinationPath: target)
    }

    func testADirectoryIsTakenRecursivelyAndAFileAsItself() throws {
        try write("out/a.txt", "a")
        try write("out/sub/b.txt", "bb")
        try write("metrics.json", "{}")
        let found = ArtifactFiles.collect(["out", "metrics.json"], in: directory)
        XCTAssertEqual(found.files.map(\.path), ["out/a.txt", "out/sub/b.txt", "metrics.json"])
        XCTAssertEqual(found.files.map(\.size), [1, 2, 2])
        XCTAssertEqual(found.notes, [])
    }

    func testAMissingPathIsNotedAndNotAnError() throws {
        try write("here.txt", "x")
        let found = ArtifactFiles.collect(["nothing-here", "here.txt"], in: directory)
        XCTAssertEqual(found.files.map(\.path), ["here.txt"])
        XCTAssertEqual(found.notes, ["artifact 'nothing-here' does not exist; nothing was uploaded for it"])
    }

    func testSymlinksOutOfTheWorkingDirectoryAreSkippedAndNamed() throws {
        try write("out/ok.txt", "ok")
        try link("out/etc", to: "/etc")
        try link("out/passwd", to: "/etc/passwd")
        try link("escape", to: "/etc")
        let found = ArtifactFiles.collect(["out", "escape", "../x", "/etc/passwd"], in: directory)
        XCTAssertEqual(found.files.map(\.path), ["out/ok.txt"])
        XCTAssertTrue(found.files.allSatisfy { $0.source.hasPrefix(try! XCTUnwrap(ArtifactFiles.realpath(directory)) + "/") })
        XCTAssertEqual(found.notes.count, 5, "\(found.notes)")
        XCTAssertTrue(found.notes.contains("artifact 'out/etc' resolves to /etc, outside the working directory; skipped"), "\(found.notes)")
        XCTAssertTrue(found.notes.contains("artifact 'escape' resolves to /etc, outside the working directory; skipped"), "\(found.notes)")
        XCTAssertTrue(found.notes.contains { $0.contains("'../x' contains '..'") }, "\(found.notes)")
        XCTAssertTrue(found.notes.contains { $0.contains("'/etc/passwd' is an absolute path") }, "\(found.notes)")
    }

    func testASymlinkInsideIsFollowedAndALoopIsWalkedOnce() throws {
        try write("data/x.txt", "x")
        try link("data/again", to: ".")
        try link("alias.txt", to: "data/x.txt")
        let found = ArtifactFiles.collect(["data", "alias.txt"], in: directory)
        XCTAssertEqual(found.files.map(\.path), ["data/x.txt", "alias.txt"])
    }
}
