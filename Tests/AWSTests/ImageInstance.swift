import DstackTesting
import Foundation

/// An instance booted the way a stock cloud image boots, by the harness in
/// `Tests/ImageE2E`: a debootstrapped Debian root with no Swift and none of the runner's
/// libraries but curl's, its own network namespace on a veth pair to this machine, an
/// IMDSv2 metadata service, and Debian's mirror (through a proxy) as its only way out.
final class ImageInstance {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ImageE2E")

    /// The cached root tarball (`make-root.sh` debootstraps it the first time, ~2 min).
    static func root(variant: String = "stock") throws -> String {
        let made = try runCommand(scripts.appendingPathComponent("make-root.sh").path, ["--variant", variant], timeout: 900)
        guard made.status == 0, let path = made.stdout.split(separator: "\n").last.map(String.init) else {
            throw MotoServerError("make-root.sh failed: \(made)")
        }
        return path
    }

    let facts: [String: String]
    var directory: String { facts["INSTANCE_DIR"] ?? "" }
    /// The host end of the veth pair: a server bound here is what the instance reaches.
    var hostAddress: String { facts["HOST_ADDRESS"] ?? "" }
    var userDataLog: String { (try? String(contentsOfFile: directory + "/user-data.log", encoding: .utf8)) ?? "" }

    init(root: String) throws {
        facts = try Self.harness(["up", root])
    }

    /// Runs the user data as the instance's first boot, in the background.
    func boot(userData: String, instanceID: String) throws {
        let file = directory + "/user-data.sh"
        try userData.write(toFile: file, atomically: true, encoding: .utf8)
        _ = try Self.harness(["run", directory, file], environment: ["INSTANCE_ID": instanceID])
    }

    /// Whether a file exists inside the instance's root (readable from the host).
    func hasFile(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/root" + path)
    }

    func stop() {
        _ = try? Self.harness(["stop", directory])
    }

    @discardableResult
    static func harness(_ arguments: [String], environment: [String: String] = [:]) throws -> [String: String] {
        let result = try runCommand(scripts.appendingPathComponent("boot-instance.sh").path, arguments, environment: environment,
                                    timeout: 120)
        guard result.status == 0 else { throw MotoServerError("boot-instance.sh \(arguments.first ?? ""): \(result)") }
        var facts: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            facts[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return facts
    }
}
