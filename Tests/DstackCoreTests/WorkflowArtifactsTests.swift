import DstackCore
import XCTest

/// `artifacts:` and `deps:` in `.dstack/workflows.yaml`, and the one rule for artifact
/// paths (`ArtifactPath`) that the CLI, the server and the runner share.
final class WorkflowArtifactsTests: XCTestCase {
    private func parse(_ text: String) throws -> WorkflowFile {
        try WorkflowFile.parse(text, file: ".dstack/workflows.yaml")
    }

    private func refusal(_ text: String) -> WorkflowFileError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error as? WorkflowFileError
        }
    }

    func testArtifactsAreAListOfPathsOrOfPathMappingsNormalizedAndGivenOnce() throws {
        let file = try parse("""
            workflows:
              - name: train
                commands: [python train.py]
                artifacts:
                  - checkpoints
                  - path: metrics.json
                  - ./out//model/
                  - checkpoints/
            """)
        XCTAssertEqual(file.workflow(named: "train")?.artifacts, ["checkpoints", "metrics.json", "out/model"])
        XCTAssertEqual(try parse("workflows:\n  - name: w\n    commands: [x]\n    artifacts: [a, b/c]\n").workflows[0].artifacts, ["a", "b/c"])
    }

    func testDepsNameAWorkflowOrARun() throws {
        let file = try parse("""
            workflows:
              - name: prepare
                commands: [x]
              - name: evaluate
                commands: [y]
                deps:
                  - workflow: prepare
                  - run: run-1a2b3c4d
            """)
        XCTAssertEqual(file.workflow(named: "evaluate")?.deps, [.workflow("prepare"), .run("run-1a2b3c4d")])
        XCTAssertEqual(file.workflow(named: "prepare")?.deps, [])
    }

    func testAnAbsolutePathOrDotDotIsRefusedWithItsLine() {
        let absolute = refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts:\n      - out\n      - /etc/passwd\n")
        XCTAssertEqual(absolute?.description,
                       ".dstack/workflows.yaml:6: artifacts: '/etc/passwd' is an absolute path; artifact paths are relative to the run's working directory")
        let parent = refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts:\n      - path: out/../../secrets\n")
        XCTAssertEqual(parent?.line, 5)
        XCTAssertEqual(parent?.reason, "artifacts: 'out/../../secrets' contains '..'; artifact paths never leave the run's working directory")
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts: [~/x]\n")?.line, 4)
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts: [.]\n")?.reason,
                       "artifacts: '.' is the working directory itself; name the files or directories in it")
    }

    func testMalformedArtifactsAndDepsAreRefusedWithTheirLine() {
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts: out\n")?.reason,
                       "'artifacts' of 'w' must be a list of paths (or of 'path: P' mappings)")
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    artifacts:\n      - path: a\n        mode: ro\n")?.line, 6)
        let bare = refusal("workflows:\n  - name: w\n    commands: [x]\n    deps:\n      - prepare\n")
        XCTAssertEqual(bare?.line, 5)
        XCTAssertEqual(bare?.reason, "deps: each entry must be one 'workflow: NAME' or 'run: ID' mapping")
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    deps:\n      - branch: main\n")?.reason,
                       "deps: 'branch' is not supported by this dstack; a dep is 'workflow: NAME' or 'run: ID'")
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    deps:\n      - workflow: w\n")?.reason,
                       "deps: workflow 'w' cannot depend on itself")
    }

    func testTheArtifactPathRule() {
        for good in ["a", "a/b.txt", "./a", "a/", "a//b", ".hidden", "a/.b"] {
            XCTAssertNil(ArtifactPath.problem(good), good)
        }
        for bad in ["", "/a", "../a", "a/../b", "a/..", "..", "~/a", ".", "./", "a\u{0}b"] {
            XCTAssertNotNil(ArtifactPath.problem(bad), bad)
        }
        XCTAssertEqual(ArtifactPath.normalized("./a//b/./c/"), "a/b/c")
        XCTAssertTrue(ArtifactPath.isCanonical("a/b"))
        XCTAssertFalse(ArtifactPath.isCanonical("a//b"))
        XCTAssertFalse(ArtifactPath.isCanonical("./a"))
        XCTAssertFalse(ArtifactPath.isCanonical("/a"))
    }
}
