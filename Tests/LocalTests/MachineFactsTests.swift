@testable import DstackLocal
import DstackCore
import Foundation
import XCTest

final class MachineFactsTests: XCTestCase {
    func testMemTotalIsReadFromMeminfo() {
        let meminfo = "MemTotal:       16303412 kB\nMemFree:         1234 kB\n"
        XCTAssertEqual(MachineFacts.memTotalKiB(meminfo: meminfo), 16_303_412)
        XCTAssertNil(MachineFacts.memTotalKiB(meminfo: "MemFree: 1 kB\n"))
    }

    func testArchitecturesAreSpelledLikeInstanceTypeFacts() {
        XCTAssertEqual(MachineFacts.normalizedArchitecture("aarch64"), "arm64")
        XCTAssertEqual(MachineFacts.normalizedArchitecture("x86_64"), "x86_64")
    }
}
