import DstackCore
import XCTest

final class WorkflowFileTests: XCTestCase {
    func testReadsWorkflowsWithCommandsAndResources() throws {
        let file = try WorkflowFile.parse("""
            workflows:
              - name: prepare
                commands:
                  - pip install -r requirements.txt
                  - python prepare.py
              - name: train
                commands: python train.py
                resources:
                  cpu: 4
                  memory: 64GB
                  gpu:
                    count: 1
                    name: V100
              - name: pinned
                commands: [make]
                resources:
                  instance_type: m5.xlarge
            """, file: "w.yaml")
        XCTAssertEqual(file.workflows, [
            Workflow(name: "prepare", commands: ["pip install -r requirements.txt", "python prepare.py"]),
            Workflow(name: "train", commands: ["python train.py"],
                     requirements: ResourceRequirements(cpus: 4, memoryMiB: 65536, gpus: 1)),
            Workflow(name: "pinned", commands: ["make"], requirements: ResourceRequirements(instanceType: "m5.xlarge")),
        ])
        XCTAssertEqual(file.workflow(named: "train")?.requirements.summary, "4 CPUs, 64 GB memory, 1 GPU")
    }

    func testBadYAMLIsReportedWithFileLineAndReason() {
        XCTAssertThrowsError(try WorkflowFile.parse("workflows:\n  - name: a\n    commands: [unclosed\n", file: ".dstack/workflows.yaml")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix(".dstack/workflows.yaml:"), text)
            XCTAssertTrue(text.contains("invalid YAML"), text)
            XCTAssertNotNil((error as? WorkflowFileError)?.line)
        }
    }

    func testShapeProblemsNameTheLine() {
        let cases: [(String, Int, String)] = [
            ("workflows:\n  - name: a\n", 2, "workflow 'a' has no 'commands'"),
            ("workflows:\n  - name: a\n    commands: [x]\n    resources:\n      memory: lots\n", 5, "'memory' must be a size"),
            ("workflows:\n  - name: a\n    commands: [x]\n    resources:\n      shm_size: 10GB\n", 5, "'resources: shm_size' is not supported by this dstack"),
            ("workflows:\n  - name: a\n    commands: [x]\n  - name: a\n    commands: [y]\n", 4, "defined twice"),
            ("workflows: 3\n", 1, "'workflows' must be a list"),
            ("jobs: []\n", 1, "there is no 'workflows' list"),
            ("workflows:\n  - name: a\n    commands: [x]\n    resources:\n      instance_type: m5.large\n      cpu: 2\n", 5, "give one or the other"),
        ]
        for (text, line, fragment) in cases {
            XCTAssertThrowsError(try WorkflowFile.parse(text, file: "f.yaml")) { error in
                guard let error = error as? WorkflowFileError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.line, line, "\(text) → \(error)")
                XCTAssertTrue(error.reason.contains(fragment) || error.description.contains(fragment), "\(error) should say \(fragment)")
            }
        }
    }

    func testMemorySizes() {
        XCTAssertEqual(MemorySize.mebibytes("64GB"), 65536)
        XCTAssertEqual(MemorySize.mebibytes("512MB"), 512)
        XCTAssertEqual(MemorySize.mebibytes("1.5GiB"), 1536)
        XCTAssertEqual(MemorySize.mebibytes("16"), 16384, "a bare number is GB, as dstack users write memory: 16")
        XCTAssertEqual(MemorySize.mebibytes("1TB"), 1024 * 1024)
        XCTAssertEqual(MemorySize.gigabytes("100"), 100)
        XCTAssertEqual(MemorySize.gigabytes("512MB"), 1, "a disk is whole GB, rounded up")
        XCTAssertEqual(MemorySize.gigabytes("1TB"), 1024)
        XCTAssertNil(MemorySize.mebibytes("lots"))
        XCTAssertNil(MemorySize.mebibytes("-1GB"))
        XCTAssertNil(MemorySize.mebibytes("0"))
    }

    func testDurations() {
        XCTAssertEqual(DurationText.seconds("30s"), 30)
        XCTAssertEqual(DurationText.seconds("5m"), 300)
        XCTAssertEqual(DurationText.seconds("1h"), 3600)
        XCTAssertEqual(DurationText.seconds("45"), 45)
        XCTAssertEqual(DurationText.seconds("250ms"), 0.25)
        XCTAssertNil(DurationText.seconds("5 minutes"))
        XCTAssertNil(DurationText.seconds("-5s"))
        XCTAssertEqual(DurationText.format(90), "1m30s")
        XCTAssertEqual(DurationText.format(7200), "2h")
    }
}
