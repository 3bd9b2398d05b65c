import DstackCore
import XCTest

/// The gitignore pattern subset `.gitignore` and `.dstackignore` are read with.
final class IgnorePatternsTests: XCTestCase {
    private func rules(_ text: String, base: String = "") -> IgnoreRules {
        var rules = IgnoreRules()
        rules.add(contents: text, base: base)
        return rules
    }

    func testANameWithoutSlashMatchesAtAnyDepth() {
        let r = rules("*.log\nbuild\n")
        XCTAssertTrue(r.excludes(file: "a.log"))
        XCTAssertTrue(r.excludes(file: "deep/er/b.log"))
        XCTAssertTrue(r.excludes(file: "build"))
        XCTAssertTrue(r.excludes(file: "src/build/out.o"), "inside an ignored directory")
        XCTAssertFalse(r.excludes(file: "a.log.txt"))
        XCTAssertFalse(r.excludes(file: "builder/x"))
    }

    func testALeadingOrInnerSlashAnchorsToTheIgnoreFilesDirectory() {
        let r = rules("/top.txt\ndocs/*.md\n")
        XCTAssertTrue(r.excludes(file: "top.txt"))
        XCTAssertFalse(r.excludes(file: "sub/top.txt"))
        XCTAssertTrue(r.excludes(file: "docs/a.md"))
        XCTAssertFalse(r.excludes(file: "docs/sub/a.md"), "* does not cross /")
        XCTAssertFalse(r.excludes(file: "other/docs/a.md"))
        let nested = rules("/local.cfg\n", base: "sub")
        XCTAssertTrue(nested.excludes(file: "sub/local.cfg"))
        XCTAssertFalse(nested.excludes(file: "local.cfg"))
    }

    func testATrailingSlashMatchesDirectoriesOnly() {
        let r = rules("data/\n")
        XCTAssertTrue(r.excludes(file: "data/x.bin"))
        XCTAssertTrue(r.excludes(file: "a/data/x.bin"))
        XCTAssertFalse(r.excludes(file: "data"), "a file named data stays")
    }

    func testDoubleStars() {
        let r = rules("**/cache\nlogs/**\na/**/z.txt\n")
        XCTAssertTrue(r.excludes(file: "cache"))
        XCTAssertTrue(r.excludes(file: "x/y/cache"))
        XCTAssertTrue(r.excludes(file: "logs/1/2.txt"))
        XCTAssertTrue(r.excludes(file: "a/z.txt"))
        XCTAssertTrue(r.excludes(file: "a/b/c/z.txt"))
        XCTAssertFalse(r.excludes(file: "b/a/z.txt"))
    }

    func testQuestionMarksAndClasses() {
        let r = rules("file?.txt\n[abc].dat\n[!0-9]x\n")
        XCTAssertTrue(r.excludes(file: "file1.txt"))
        XCTAssertFalse(r.excludes(file: "file10.txt"))
        XCTAssertTrue(r.excludes(file: "b.dat"))
        XCTAssertFalse(r.excludes(file: "d.dat"))
        XCTAssertTrue(r.excludes(file: "ax"))
        XCTAssertFalse(r.excludes(file: "1x"))
    }

    func testNegationReincludesAndTheLastMatchWins() {
        let r = rules("*.csv\n!keep.csv\n")
        XCTAssertTrue(r.excludes(file: "big.csv"))
        XCTAssertFalse(r.excludes(file: "keep.csv"))
        XCTAssertFalse(r.excludes(file: "sub/keep.csv"))
        let dir = rules("out/\n!out/keep.txt\n")
        XCTAssertTrue(dir.excludes(file: "out/keep.txt"), "a file inside an ignored directory cannot be re-included, as in git")
    }

    func testCommentsBlankLinesAndEscapes() {
        let r = rules("# a comment\n\n   \n\\#hash\n\\!bang\nspaced\\ \n")
        XCTAssertEqual(r.patterns.count, 3)
        XCTAssertTrue(r.excludes(file: "#hash"))
        XCTAssertTrue(r.excludes(file: "!bang"))
        XCTAssertFalse(r.excludes(file: "a comment"))
    }
}
