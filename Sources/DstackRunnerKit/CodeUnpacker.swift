import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Puts a run's code into its working directory before the first command: downloads
/// the archive from the server, checks its SHA-256 against the one the assignment
/// carries (a truncated or swapped download is never unpacked), and unpacks it with
/// `tar -xzf`. Each failure is one sentence for the run's log.
struct CodeUnpacker {
    let client: RunnerAPIClient
    let stateDirectory: String
    let environment: [String: String]

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func unpack(_ code: RunnerAPI.Assignment.Code, runID: String, into directory: String) throws {
        let bytes: [UInt8]
        switch client.downloadCode(runID: runID) {
        case .success(let body): bytes = body
        case .failure(let error): throw Failure(description: "could not download the run's code: \(error)")
        }
        let actual = SHA256Digest.hex(of: bytes)
        guard actual == code.sha256 else {
            throw Failure(description: "the run's code did not arrive intact: its SHA-256 is \(actual), "
                + "not \(code.sha256) (\(bytes.count) of \(code.size) bytes)")
        }
        let archive = stateDirectory + "/code-\(runID).tar.gz"
        defer { unlink(archive) }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: archive))
        } catch {
            throw Failure(description: "could not save the run's code to \(archive): \(error.localizedDescription)")
        }
        try extract(archive, into: directory)
    }

    /// `tar -xzf`, as the run's first child: its messages become the failure's sentence.
    private func extract(_ archive: String, into directory: String) throws {
        let command = "tar -xzf \(Self.quote(archive)) --no-same-owner -C \(Self.quote(directory)) 2>&1"
        let process: CommandProcess
        do {
            process = try CommandProcess(command: command, directory: directory, environment: environment)
        } catch {
            throw Failure(description: "could not start tar to unpack the run's code: \(error)")
        }
        close(process.stderr)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(process.stdout, $0.baseAddress, $0.count) }
            if n > 0 { output.append(contentsOf: buffer[..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(process.stdout)
        process.waitForExitWithoutReaping()
        let status = process.reap()
        guard status == 0 else {
            let said = String(decoding: output.prefix(500), as: UTF8.self).split(separator: "\n").joined(separator: "; ")
            throw Failure(description: "could not unpack the run's code (tar exited with \(status)\(said.isEmpty ? "" : ": " + said))")
        }
    }

    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
