import DstackProvider
import DstackWire
import Foundation

/// Which files of the working directory go with a run:
/// - in a git work tree, the tracked files as they are on disk (uncommitted changes
///   included, deleted files left out) plus untracked files git does not ignore;
/// - elsewhere, every file minus the `.gitignore` patterns;
/// - either way minus `.dstackignore` patterns, and never anything under `.git/`.
public struct CodeFiles: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        /// Relative to the root, `/`-separated.
        public var path: String
        /// Bytes on disk (a symlink counts its target's name, not its target).
        public var size: Int
    }

    /// The shipped directory.
    public var root: String
    /// Sorted by path (byte order), so the archive is the same for the same files.
    public var files: [File]
    /// True when the list came from git.
    public var fromGit: Bool

    public var totalSize: Int { files.reduce(0) { $0 + $1.size } }

    /// The `count` biggest files, biggest first (for the "over the limit" message).
    public func biggest(_ count: Int) -> [File] {
        Array(files.sorted { ($0.size, $1.path) > ($1.size, $0.path) }.prefix(count))
    }

    public static let dstackIgnore = ".dstackignore"

    /// Lists the files to ship from `root`. `git` is the git executable to ask (nil:
    /// look on PATH); without one, or outside a work tree, the directory is walked.
    public static func collect(root: String, git: String? = CodeFiles.findGit()) throws -> CodeFiles {
        if let git, let listed = try gitListing(root: root, git: git) {
            return try fromGitListing(root: root, paths: listed)
        }
        return try walk(root: root)
    }

    // MARK: git

    /// False only when neither `root` nor a parent holds a `.git` and git's environment
    /// names no repository: then git would say "not a work tree".
    public static func mayBeInGitWorkTree(_ root: String) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        if environment["GIT_DIR"] != nil || environment["GIT_WORK_TREE"] != nil { return true }
        var directory = URL(fileURLWithPath: root).standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent(".git").path) { return true }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { return false }
            directory = parent
        }
    }

    /// Tracked and untracked-but-not-ignored paths under `root`, relative to it; nil
    /// when `root` is not in a git work tree.
    static func gitListing(root: String, git: String) throws -> [String]? {
        // No `.git` here or above (and no GIT_DIR): not a work tree, known without
        // starting git, which costs a few milliseconds of every `dstack run`.
        if !mayBeInGitWorkTree(root) { return nil }
        let inside = try ChildProcess.run(git, ["rev-parse", "--is-inside-work-tree"], in: root)
        guard inside.status == 0, String(decoding: inside.stdout, as: UTF8.self).hasPrefix("true") else { return nil }
        // A directory the enclosing repository ignores (a project under a dotfiles
        // repository that ignores `*`, a scratch folder under `.build/`) is not that
        // repository's code: ship it as a plain directory rather than ship nothing.
        if try ChildProcess.run(git, ["check-ignore", "-q", "."], in: root).status == 0 { return nil }
        let listing = try ChildProcess.run(git, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], in: root)
        guard listing.status == 0 else {
            throw CodeShippingError.listing("git ls-files failed: \(String(decoding: listing.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // A file both tracked and modified is listed once; a merge conflict lists it per stage.
        var seen = Set<String>()
        return listing.stdout.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.filter { seen.insert($0).inserted }
    }

    static func fromGitListing(root: String, paths: [String]) throws -> CodeFiles {
        var rules = IgnoreRules()
        // .dstackignore files among the listed ones, shallowest first.
        let ignoreFiles = paths.filter { $0 == dstackIgnore || $0.hasSuffix("/" + dstackIgnore) }
            .sorted { $0.split(separator: "/").count < $1.split(separator: "/").count }
        for path in ignoreFiles {
            if let text = try? String(contentsOfFile: root + "/" + path, encoding: .utf8) {
                rules.add(contents: text, base: directory(of: path))
            }
        }
        var files: [File] = []
        for path in paths where !isUnderGit(path) && !rules.excludes(file: path) {
            // Deleted in the working tree: left out. Submodules (directories): left out.
            guard let entry = lstatEntry(root + "/" + path), !entry.isDirectory else { continue }
            files.append(File(path: path, size: entry.size))
        }
        return CodeFiles(root: root, files: sortedByPath(files), fromGit: true)
    }

    // MARK: plain directory

    static func walk(root: String) throws -> CodeFiles {
        var files: [File] = []
        try walk(root: root, relative: "", rules: IgnoreRules(), into: &files)
        return CodeFiles(root: root, files: sortedByPath(files), fromGit: false)
    }

    private static func walk(root: String, relative: String, rules inherited: IgnoreRules, into files: inout [File]) throws {
        let directory = relative.isEmpty ? root : root + "/" + relative
        var rules = inherited
        for name in [".gitignore", dstackIgnore] {
            if let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) {
                rules.add(contents: text, base: relative)
            }
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw CodeShippingError.listing("cannot read \(directory): \((error as NSError).localizedDescription)")
        }
        for name in names.sorted() where name != ".git" {
            let path = relative.isEmpty ? name : relative + "/" + name
            guard let entry = lstatEntry(root + "/" + path) else { continue }
            if rules.ignores(path, isDirectory: entry.isDirectory) { continue }
            if entry.isDirectory {
                try walk(root: root, relative: path, rules: rules, into: &files)
            } else {
                files.append(File(path: path, size: entry.size))
            }
        }
    }

    // MARK: helpers

    static func isUnderGit(_ path: String) -> Bool {
        path == ".git" || path.hasPrefix(".git/") || path.contains("/.git/")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// Byte order, as `tar --sort=name` and `LC_ALL=C sort` use.
    static func sortedByPath(_ files: [File]) -> [File] {
        files.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    /// nil when the path does not exist (a tracked file deleted from the work tree).
    static func lstatEntry(_ path: String) -> (isDirectory: Bool, size: Int)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return ((info.st_mode & S_IFMT) == S_IFDIR, Int(info.st_size))
    }

    public static func findGit(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        ChildProcess.which("git", environment: environment)
    }
}

public enum CodeShippingError: Error, Equatable, CustomStringConvertible {
    case listing(String)
    case archiving(String)
    case storing(String)

    public var description: String {
        switch self {
        case .listing(let text): return "cannot list the code to ship: \(text)"
        case .archiving(let text): return "cannot pack the code to ship: \(text)"
        case .storing(let text): return "cannot store the code to ship: \(text)"
        }
    }
}
