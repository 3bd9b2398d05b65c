/// The one rule for an artifact's path, shared by the workflow file, the CLI, the
/// server and the runner: relative to the run's working directory, and never leaving
/// it. The server and the download side check it again, because a path that reaches
/// them may come from anywhere.
public enum ArtifactPath {
    /// Why `path` cannot name an artifact, or nil when it can. `path` as a user wrote it:
    /// `checkpoints`, `out/metrics.json`, `./model/` (a leading `./` and a trailing `/`
    /// are tolerated and dropped by `normalized`).
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "an artifact path is empty" }
        if path.hasPrefix("/") { return "'\(path)' is an absolute path; artifact paths are relative to the run's working directory" }
        if path.hasPrefix("~") { return "'\(path)' starts with ~; artifact paths are relative to the run's working directory" }
        if path.contains("\0") { return "an artifact path contains a NUL character" }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { return "'\(path)' contains '..'; artifact paths never leave the run's working directory" }
        if components.allSatisfy({ $0 == "." }) { return "'\(path)' is the working directory itself; name the files or directories in it" }
        return nil
    }

    /// `./out//model/` → `out/model`: no `.` components, no empty ones, no trailing `/`.
    /// Only for a path `problem` accepted.
    public static func normalized(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }.joined(separator: "/")
    }

    /// True when `path` is already in the form `normalized` gives and is acceptable: what
    /// the server takes from a runner and a download writes under its directory.
    public static func isCanonical(_ path: String) -> Bool {
        problem(path) == nil && normalized(path) == path
    }
}
