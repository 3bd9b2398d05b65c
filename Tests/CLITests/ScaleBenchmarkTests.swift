import DstackTesting
import Foundation
import XCTest

/// `dstack-benchmarks scale` at a tiny size, so the benchmark's machinery keeps working:
/// a real `dstack server` on the local provider's simulated instances, runners in the
/// benchmark's process registering with their launches' tokens over the runner API.
final class ScaleBenchmarkTests: XCTestCase {
    func testEveryRunOfABurstFinishesOnSimulatedRunners() throws {
        let result = try runCommand(BuiltProducts.path("dstack-benchmarks"),
                                    ["scale", "--runners", "5", "--runs", "20", "--timeout", "120",
                                     "--dstack", BuiltProducts.path("dstack")], timeout: 300)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("5 simulated runners long-polling one dstack server, 20 runs in one burst"), result.stdout)
        XCTAssertTrue(result.stdout.contains("runs done: 20 of 20"), result.stdout)
        // Every run was assigned and reported its start: a latency for each of the 20.
        XCTAssertTrue(result.stdout.contains("→ start report at the server: p50"), result.stdout)
        XCTAssertTrue(result.stdout.contains(", 20 runs)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("all runs finished"), result.stdout)
    }
}
