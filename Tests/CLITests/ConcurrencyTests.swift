import DstackTesting
import Foundation
import XCTest

/// Two dstack processes at once never lose an update.
final class ConcurrencyTests: CLITestCase {
    func testConcurrentProcessesNeverLoseAnIncrement() throws {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        // The state the commands' server keeps (Postgres under DSTACK_TEST_STATE=postgres).
        let db = commandEnvironment["DSTACK_DATABASE_URL"] ?? home.appendingPathComponent("state.db").path
        let workers = 4, iterations = 50
        let processes: [Process] = try (0..<workers).map { _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: BuiltProducts.path("dstack-state-stress"))
            process.arguments = [db, String(iterations)]
            try process.run()
            return process
        }
        for process in processes {
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
        }
        let json = try ok("autoscale", "info", "--json")
        XCTAssertTrue(json.contains(#""instance_type": "counter", "max": \#(workers * iterations)"#), json)
    }

    func testConcurrentCLIRuleChangesAllLand() throws {
        try ok("local", "configure")
        // Six processes change the same rule at once: each waits its turn for the state
        // lock instead of failing with "database is locked".
        let group = DispatchGroup()
        let failures = Locked<[String]>([])
        let dstack = BuiltProducts.path("dstack"), environment = stateEnvironment.merging(["DSTACK_HOME": home.path]) { _, new in new }
        for _ in 0..<6 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                do {
                    let result = try runCommand(dstack, ["autoscale", "allow", "local", "--max", "3"], environment: environment)
                    if result.status != 0 { failures.mutate { $0.append(result.description) } }
                } catch {
                    failures.mutate { $0.append("\(error)") }
                }
            }
        }
        group.wait()
        XCTAssertEqual(failures.value, [])
        XCTAssertTrue(try ok("autoscale", "info", "--json").contains(#""instance_type": "local", "max": 3"#))
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
