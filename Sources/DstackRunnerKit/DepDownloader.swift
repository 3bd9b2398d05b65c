import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Puts the artifacts of a run's deps into its working directory before the first
/// command: each file streamed to a temporary file next to its place, its SHA-256
/// checked, then renamed into place. A file is only ever written under the working
/// directory: each directory on the way is made or must be a real directory (never a
/// symlink the run's code brought along). Each failure is one sentence for the run's log.
struct DepDownloader {
    let transfer: ArtifactTransfer
    let lifetime: Lifetime
    var maxFailures = 10
    var backoff = Backoff(base: 0.5, cap: 15)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Returns how many files and bytes arrived.
    func download(runID: String, into directory: String) throws -> (files: Int, bytes: Int) {
        var files = try list(runID: runID)
        var total = 0
        var index = 0
        var failures = 0
        var delays = backoff
        while index < files.count {
            if lifetime.isStopped { throw Failure(description: "the runner is stopping") }
            let file = files[index]
            guard ArtifactPath.isCanonical(file.path) else {
                throw Failure(description: "a dep's file has a path that would leave the working directory: \(file.path)")
            }
            let outcome = try fetch(file, into: directory)
            switch outcome {
            case .ok:
                total += file.size
                index += 1
                failures = 0
                delays.reset()
                continue
            case .fail(let reason):
                throw Failure(description: "could not download \(file.path) of run \(file.run): \(reason)")
            case .refresh(let reason), .retry(let reason):
                failures += 1
                guard failures < maxFailures else {
                    throw Failure(description: "could not download \(file.path) of run \(file.run): \(reason) (after \(failures) tries)")
                }
                lifetime.sleep(delays.nextDelay())
                if case .refresh = outcome { files = try list(runID: runID) } // fresh URLs, same files
            }
        }
        return (files.count, total)
    }

    private func list(runID: String) throws -> [RunnerAPI.DepFile] {
        var delays = backoff
        for failure in 1...maxFailures {
            let (outcome, files) = transfer.depFiles(runID: runID)
            switch outcome {
            case .ok: if let files { return files.files }
            case .fail(let reason): throw Failure(description: "could not list the deps' artifacts: \(reason)")
            case .retry(let reason), .refresh(let reason):
                if failure == maxFailures { throw Failure(description: "could not list the deps' artifacts: \(reason)") }
            }
            lifetime.sleep(delays.nextDelay())
        }
        throw Failure(description: "could not list the deps' artifacts")
    }

    /// One try at one file: `.ok` once it is in place with the right SHA-256.
    private func fetch(_ file: RunnerAPI.DepFile, into directory: String) throws -> ArtifactTransfer.TransferOutcome {
        let components = file.path.split(separator: "/").map(String.init)
        let parent = try Self.makeDirectories(components.dropLast(), under: directory)
        let temp = parent + "/.dstack-dep-\(SecureRandom.hex(6))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(temp) }
        }
        let outcome = transfer.get(url: file.url, into: fd)
        guard case .ok = outcome else { return outcome }
        let actual = try FileDigest.sha256Hex(path: temp)
        guard actual == file.sha256 else { return .retry("it arrived with SHA-256 \(actual), not \(file.sha256)") }
        let final = parent + "/" + components[components.count - 1]
        var info = stat()
        if lstat(final, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw Failure(description: "\(file.path) of run \(file.run) would replace a directory of the working directory")
        }
        // rename replaces a symlink at the final name itself, never the file it points to.
        guard rename(temp, final) == 0 else { throw Failure(description: "cannot put \(file.path) in place: \(String(cString: strerror(errno)))") }
        keep = true
        return outcome
    }

    /// Makes each directory under `directory` in turn; one that exists must be a real
    /// directory, not a symlink (which could lead outside).
    static func makeDirectories(_ components: ArraySlice<String>, under directory: String) throws -> String {
        var path = directory
        for component in components {
            path += "/" + component
            var info = stat()
            if lstat(path, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw Failure(description: "\(path) is not a directory (a symlink or a file is in the way of a dep's artifact)")
                }
            } else if mkdir(path, 0o755) != 0, errno != EEXIST {
                throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        return path
    }
}
