@testable import DstackRunnerKit
import Foundation
import XCTest

final class SupportTests: XCTestCase {
    func testAChunkNeverEndsInsideAUTF8Character() {
        let text = Array("aé€😀".utf8) // 1 + 2 + 3 + 4 bytes
        XCTAssertEqual(OutputPump.completeCharacterPrefix(text), text.count)
        XCTAssertEqual(OutputPump.completeCharacterPrefix(Array(text[0..<2])), 1, "half of é is held back")
        XCTAssertEqual(OutputPump.completeCharacterPrefix(Array(text[0..<5])), 3, "two thirds of € are held back")
        XCTAssertEqual(OutputPump.completeCharacterPrefix(Array(text[0..<9])), 6, "three quarters of 😀 are held back")
        XCTAssertEqual(OutputPump.completeCharacterPrefix([0x80, 0x80, 0x80, 0x80, 0x80]), 5, "not UTF-8: sent as it is")
    }

    func testBackoffGrowsToItsCapAndResets() {
        var backoff = Backoff(base: 1, cap: 8)
        var ceilings: [Double] = []
        for _ in 0..<6 {
            ceilings.append(backoff.ceiling)
            XCTAssertLessThanOrEqual(backoff.nextDelay(), ceilings.last!)
        }
        XCTAssertEqual(ceilings, [1, 2, 4, 8, 8, 8])
        backoff.reset()
        XCTAssertEqual(backoff.ceiling, 1)
    }

    func testPowerOffFallsBackToTheNextCommand() throws {
        let marker = NSTemporaryDirectory() + "poweroff-\(UUID())"
        let lines = LineBox()
        let done = PowerOff.run([["/bin/false"], ["/nonexistent/shutdown"], ["/bin/sh", "-c", "touch \(marker)"]],
                                log: RunnerLog(sink: { lines.append($0) }))
        XCTAssertTrue(done)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker))
        XCTAssertTrue(lines.text.contains("/bin/false failed (exit 1)"), lines.text)
        try? FileManager.default.removeItem(atPath: marker)
    }

    func testTheLogMasksSecrets() {
        let lines = LineBox()
        let log = RunnerLog(sink: { lines.append($0) })
        log.addSecret("hunter2")
        log("the server said hunter2 is wrong")
        XCTAssertEqual(lines.text, "dstack-runner: the server said [redacted] is wrong\n")
    }
}
