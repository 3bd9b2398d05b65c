import DstackWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files a run's artifact paths name in its working directory. Nothing outside the
/// directory is ever read: every file is taken by its resolved path, which must lie
/// inside the (resolved) working directory; a symlink that leads out is skipped and
/// named in `skipped`. Directories are walked recursively (a symlinked directory inside
/// is followed once: a loop is not walked twice).
struct ArtifactFiles {
    struct File: Equatable {
        /// Relative to the working directory, as the manifest names it.
        var path: String
        /// The resolved path read for the bytes.
        var source: String
        var size: Int64
    }

    var files: [File] = []
    /// One sentence each, for the run's log: missing paths, escaping symlinks, special files.
    var notes: [String] = []

    static func collect(_ paths: [String], in directory: String) -> ArtifactFiles {
        var result = ArtifactFiles()
        guard let root = Self.realpath(directory) else {
            result.notes.append("the working directory \(directory) cannot be resolved; nothing was uploaded")
            return result
        }
        var visited: Set<String> = []
        var taken: Set<String> = []
        for raw in paths {
            if let problem = ArtifactPath.problem(raw) {
                result.notes.append("artifact skipped: \(problem)")
                continue
            }
            let path = ArtifactPath.normalized(raw)
            var info = stat()
            guard lstat(directory + "/" + path, &info) == 0 else {
                result.notes.append("artifact '\(path)' does not exist; nothing was uploaded for it")
                continue
            }
            result.add(path, directory: directory, root: root, visited: &visited, taken: &taken)
        }
        return result
    }

    private mutating func add(_ path: String, directory: String, root: String, visited: inout Set<String>, taken: inout Set<String>) {
        let full = directory + "/" + path
        guard let resolved = Self.realpath(full) else {
            notes.append("artifact '\(path)' is a broken symlink; skipped")
            return
        }
        guard resolved == root || resolved.hasPrefix(root + "/") else {
            notes.append("artifact '\(path)' resolves to \(resolved), outside the working directory; skipped")
            return
        }
        var info = stat()
        guard stat(resolved, &info) == 0 else {
            notes.append("artifact '\(path)' cannot be read (\(String(cString: strerror(errno)))); skipped")
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard taken.insert(path).inserted else { return }
            files.append(File(path: path, source: resolved, size: Int64(info.st_size)))
        case S_IFDIR:
            guard visited.insert(resolved).inserted else { return } // a loop, or a directory already walked
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: resolved).sorted()
            } catch {
                notes.append("artifact directory '\(path)' cannot be listed (\(error.localizedDescription)); skipped")
                return
            }
            for entry in entries {
                add(path + "/" + entry, directory: directory, root: root, visited: &visited, taken: &taken)
            }
        default:
            notes.append("artifact '\(path)' is not a regular file or a directory; skipped")
        }
    }

    static func realpath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
