import DstackCore
import XCTest

/// Workflow keys as dstack users write them: env, bare-number sizes, and keys this
/// dstack does not support refused with their line.
final class WorkflowKeysTests: XCTestCase {
    private func workflow(_ body: String) throws -> Workflow {
        let file = try WorkflowFile.parse("workflows:\n  - name: w\n    commands: [x]\n" + body, file: ".dstack/workflows.yaml")
        return try XCTUnwrap(file.workflow(named: "w"))
    }

    private func refusal(_ text: String) -> WorkflowFileError? {
        do {
            _ = try WorkflowFile.parse(text, file: ".dstack/workflows.yaml")
            return nil
        } catch {
            return error as? WorkflowFileError
        }
    }

    func testEnvAsAMapKeepsEachValueAsWritten() throws {
        let w = try workflow("    env:\n      FOO: bar\n      EPOCHS: 10\n      EMPTY: \"\"\n      URL: http://x/?a=b\n")
        XCTAssertEqual(w.environment, ["FOO": "bar", "EPOCHS": "10", "EMPTY": "", "URL": "http://x/?a=b"])
    }

    func testEnvAsAListOfKeyValueStrings() throws {
        let w = try workflow("    env:\n      - FOO=bar\n      - EQUATION=a=b\n      - EMPTY=\n")
        XCTAssertEqual(w.environment, ["FOO": "bar", "EQUATION": "a=b", "EMPTY": ""])
    }

    func testNoEnvIsAnEmptyOne() throws {
        XCTAssertEqual(try workflow("").environment, [:])
        XCTAssertEqual(try workflow("    env:\n").environment, [:])
    }

    func testBadEnvEntriesAreRefusedWithTheirLineAndWhy() {
        let cases: [(String, Int, String)] = [
            ("    env:\n      - FOO\n", 5, "env: 'FOO' is not KEY=VALUE"),
            ("    env:\n      - 1X=2\n", 5, "env: '1X' is not a valid environment variable name"),
            ("    env:\n      MY-VAR: x\n", 5, "env: 'MY-VAR' is not a valid environment variable name"),
            ("    env:\n      FOO:\n", 5, "env: 'FOO' needs a value"),
            ("    env:\n      - A=1\n      - A=2\n", 6, "env: 'A' is set twice"),
            ("    env: FOO=bar\n", 4, "must be a mapping (KEY: value) or a list of KEY=VALUE strings"),
        ]
        for (body, line, fragment) in cases {
            let error = refusal("workflows:\n  - name: w\n    commands: [x]\n" + body)
            XCTAssertEqual(error?.line, line, "\(body) → \(String(describing: error))")
            XCTAssertTrue(error?.reason.contains(fragment) ?? false, "\(String(describing: error)) should say \(fragment)")
        }
    }

    func testABareMemoryNumberIsGigabytes() throws {
        XCTAssertEqual(try workflow("    resources:\n      memory: 16\n").requirements.memoryMiB, 16384)
        XCTAssertEqual(try workflow("    resources:\n      memory: 512MB\n").requirements.memoryMiB, 512)
        XCTAssertEqual(try workflow("    resources:\n      memory: 16GB\n").requirements.memoryMiB, 16384)
        XCTAssertEqual(try workflow("    resources:\n      memory: 1TB\n").requirements.memoryMiB, 1024 * 1024)
    }

    func testDiskIsKeptInGigabytes() throws {
        XCTAssertEqual(try workflow("    resources:\n      disk: 100\n").requirements.diskGB, 100)
        XCTAssertEqual(try workflow("    resources:\n      disk: 1TB\n").requirements.diskGB, 1024)
        XCTAssertEqual(try workflow("    resources:\n      disk:\n        size: 200GB\n").requirements.diskGB, 200)
        XCTAssertEqual(try workflow("    resources:\n      instance_type: m5.large\n      disk: 50GB\n").requirements,
                       ResourceRequirements(instanceType: "m5.large", diskGB: 50), "a disk goes with an explicit type too")
        XCTAssertEqual(refusal("workflows:\n  - name: w\n    commands: [x]\n    resources:\n      disk: big\n")?.line, 5)
    }

    func testTheDiskNeverDecidesWhetherATypeFits() {
        let small = InstanceTypeFacts(name: "small", vcpus: 2, memoryMiB: 4096, architecture: "x86_64")
        XCTAssertTrue(ResourceRequirements(cpus: 2, diskGB: 5000).isSatisfied(by: small))
        XCTAssertEqual(ResourceRequirements(cpus: 2, diskGB: 5000).summary, "2 CPUs")
    }

    func testAnImageKeyIsRefusedWithItsLineAndNotSupported() {
        let text = """
            workflows:
              - name: train
                commands:
                  - python train.py
                resources:
                  gpu: 1
                image: python:3.11
            """
        let error = refusal(text)
        XCTAssertEqual(error?.description, ".dstack/workflows.yaml:7: 'image' is not supported by this dstack")
    }

    func testEveryKeyThisDstackDoesNotActOnIsRefused() {
        for key in ["ports: [8080]", "cache: [out]", "provider: bash", "working_dir: src", "python: 3.10"] {
            let error = refusal("workflows:\n  - name: w\n    commands: [x]\n    \(key)\n")
            let name = String(key.prefix { $0 != ":" })
            XCTAssertEqual(error?.line, 4, key)
            XCTAssertEqual(error?.reason, "'\(name)' is not supported by this dstack", key)
        }
        XCTAssertEqual(refusal("variables:\n  a: 1\nworkflows:\n  - name: w\n    commands: [x]\n")?.description,
                       ".dstack/workflows.yaml:1: 'variables' is not supported by this dstack")
        let resource = refusal("workflows:\n  - name: w\n    commands: [x]\n    resources:\n      shm_size: 8GB\n")
        XCTAssertEqual(resource?.line, 5)
        XCTAssertTrue(resource?.reason.hasPrefix("'resources: shm_size' is not supported by this dstack") ?? false,
                      String(describing: resource))
    }
}
