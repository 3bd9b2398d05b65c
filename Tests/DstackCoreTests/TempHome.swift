import DstackCore
import Foundation

/// A fresh `$DSTACK_HOME` under the system temp directory, removed by `cleanUp()`.
struct TempHome {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-test-\(UUID().uuidString)")
    }

    var home: DstackHome { DstackHome(url: url) }

    func cleanUp() {
        try? FileManager.default.removeItem(at: url)
    }

    func mode(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1
    }
}
