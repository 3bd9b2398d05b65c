import Foundation

/// The runner binaries this dstack hands out to instances: one per CPU architecture,
/// built statically against the Swift runtime (`make` puts them there), found next to
/// the `dstack` executable as `dstack-runner-linux-ARCH`, with ARCH as providers name
/// it (`x86_64`, `arm64`).
public struct RunnerBinaries: Sendable, Equatable {
    public struct Binary: Sendable, Equatable {
        public var architecture: String
        public var path: String
        public var sha256: String
    }

    public var byArchitecture: [String: Binary]

    public init(_ binaries: [Binary] = []) {
        byArchitecture = Dictionary(binaries.map { ($0.architecture, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public static func fileName(architecture: String) -> String { "dstack-runner-linux-\(architecture)" }

    /// The architectures dstack knows how to name; the providers report these.
    public static let knownArchitectures = ["x86_64", "arm64"]

    /// The binaries in `directory`, with their SHA-256 (the server computes it once at start).
    public static func load(from directory: String) throws -> RunnerBinaries {
        var found: [Binary] = []
        for architecture in knownArchitectures {
            let path = directory + "/" + fileName(architecture: architecture)
            guard FileManager.default.isExecutableFile(atPath: path) else { continue }
            found.append(Binary(architecture: architecture, path: path, sha256: try FileDigest.sha256Hex(path: path)))
        }
        return RunnerBinaries(found)
    }

    /// Which architectures have a binary in `directory`, without reading them.
    public static func architectures(in directory: String) -> Set<String> {
        Set(knownArchitectures.filter { FileManager.default.isExecutableFile(atPath: directory + "/" + fileName(architecture: $0)) })
    }

    /// The directory of the running executable: an installed `dstack`, or `.build/debug`.
    public static var executableDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }
}
