import DstackCLIKit
import Foundation

/// The `dstack-server` program next to this `dstack`: `dstack server [start] ...` runs it
/// in this process's place (same pid), so the CLI itself links neither the state nor the
/// cloud providers' control plane.
enum ServerProgram {
    static var path: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("dstack-server").path
    }

    static func exec(_ arguments: [String]) -> Never {
        let path = self.path
        guard access(path, X_OK) == 0 else {
            fail("\(path) is missing; dstack server is that program (build it with 'make')", code: 1)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        fail("could not run \(path): \(String(cString: strerror(errno)))", code: 1)
    }
}
