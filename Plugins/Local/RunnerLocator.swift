import DstackProvider
import Foundation

/// Finds the `dstack-runner` binary that local instances run.
public enum RunnerLocator {
    public static let binaryName = "dstack-runner"
    public static let overrideVariable = "DSTACK_RUNNER_PATH"

    /// In order: `$DSTACK_RUNNER_PATH`; next to the running executable (an installed
    /// `dstack`, or the test bundle in `.build/debug`, sit beside the runner); `$PATH`.
    public static func locate(environment: [String: String]) throws -> String {
        if let override = environment[overrideVariable], !override.isEmpty {
            guard isExecutableFile(override) else {
                throw ProviderError.invalidConfiguration(
                    detail: "\(overrideVariable)=\(override) is not an executable file")
            }
            return override
        }
        for directory in executableDirectories() + searchPath(environment) {
            let candidate = directory + "/" + binaryName
            if isExecutableFile(candidate) { return candidate }
        }
        throw ProviderError.invalidConfiguration(
            detail: "\(binaryName) was not found next to this program or on PATH; set \(overrideVariable) to its path")
    }

    private static func executableDirectories() -> [String] {
        var paths: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            paths.append(exe)
        }
        if let argv0 = CommandLine.arguments.first, argv0.contains("/") {
            let absolute = argv0.hasPrefix("/") ? argv0 : FileManager.default.currentDirectoryPath + "/" + argv0
            paths.append(URL(fileURLWithPath: absolute).resolvingSymlinksInPath().path)
        }
        if let main = Bundle.main.executablePath { paths.append(main) }
        return paths.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
    }

    private static func searchPath(_ environment: [String: String]) -> [String] {
        (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && !isDirectory.boolValue && FileManager.default.isExecutableFile(atPath: path)
    }
}
