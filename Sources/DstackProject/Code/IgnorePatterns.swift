/// The common subset of `.gitignore` patterns, for `.gitignore` and `.dstackignore`:
/// comments (`#`), blank lines, `!` negation, a trailing `/` (directories only), a
/// leading or inner `/` (anchored to the file's directory, else the name matches at
/// any depth), `*` and `?` (never across `/`), `[abc]`/`[a-z]`/`[!a]` classes, `**`
/// (`**/x` at any depth, `x/**` everything inside, `a/**/b` zero or more directories)
/// and `\` escapes. The last pattern that matches decides, as in git.
public struct IgnorePattern: Sendable, Equatable {
    /// The directory of the file the pattern came from, relative to the project root
    /// ("" for the root), without a trailing slash.
    public var base: String
    public var glob: [UInt8]
    public var negated: Bool
    public var directoriesOnly: Bool
    /// True when the pattern holds a `/` other than a trailing one: it matches the path
    /// relative to `base`, not just the last name.
    public var anchored: Bool

    /// One line of an ignore file; nil for comments and blank lines.
    public init?(line: String, base: String = "") {
        var text = Substring(line)
        if text.hasSuffix("\r") { text = text.dropLast() }
        // Trailing spaces are dropped unless escaped.
        while text.hasSuffix(" ") && !text.hasSuffix("\\ ") { text = text.dropLast() }
        guard !text.isEmpty, !text.hasPrefix("#") else { return nil }
        negated = text.hasPrefix("!")
        if negated { text = text.dropFirst() }
        if text.hasPrefix("\\!") || text.hasPrefix("\\#") { text = text.dropFirst() }
        directoriesOnly = text.hasSuffix("/")
        while text.hasSuffix("/") { text = text.dropLast() }
        anchored = text.contains("/")
        while text.hasPrefix("/") { text = text.dropFirst() }
        guard !text.isEmpty else { return nil }
        glob = Array(text.utf8)
        self.base = base
    }

    /// Whether the pattern matches `path` (relative to the project root, no trailing
    /// slash). nil when the path is outside the pattern's directory.
    public func matches(_ path: String, isDirectory: Bool) -> Bool {
        if directoriesOnly && !isDirectory { return false }
        var relative = Substring(path)
        if !base.isEmpty {
            guard path.hasPrefix(base + "/") else { return false }
            relative = path.dropFirst(base.count + 1)
        }
        let subject: [UInt8]
        if anchored {
            subject = Array(relative.utf8)
        } else {
            subject = Array((relative.split(separator: "/").last ?? relative).utf8)
        }
        return Self.glob(glob, 0, subject, 0)
    }

    private static let slash = UInt8(ascii: "/")
    private static let star = UInt8(ascii: "*")

    static func glob(_ p: [UInt8], _ pi: Int, _ t: [UInt8], _ ti: Int) -> Bool {
        var pi = pi, ti = ti
        while pi < p.count {
            let c = p[pi]
            if c == star {
                let double = pi + 1 < p.count && p[pi + 1] == star
                if double {
                    let atStart = pi == 0 || p[pi - 1] == slash
                    let next = pi + 2
                    if atStart && next < p.count && p[next] == slash {
                        // `**/`: zero or more whole directories.
                        var k = ti
                        while true {
                            if glob(p, next + 1, t, k) { return true }
                            guard let nextSlash = t[k...].firstIndex(of: slash) else { return false }
                            k = nextSlash + 1
                        }
                    }
                    if atStart && next == p.count { return true } // `x/**`, or `**` alone: everything
                    // Any other `**` is two `*`s.
                }
                // `*`: anything but `/`.
                var k = ti
                while true {
                    if glob(p, pi + 1, t, k) { return true }
                    guard k < t.count, t[k] != slash else { return false }
                    k += 1
                }
            }
            guard ti < t.count else { return false }
            switch c {
            case UInt8(ascii: "?"):
                guard t[ti] != slash else { return false }
                pi += 1
                ti += 1
            case UInt8(ascii: "["):
                guard let (matched, end) = characterClass(p, pi, t[ti]) else {
                    // An unclosed `[` is a literal.
                    guard t[ti] == c else { return false }
                    pi += 1
                    ti += 1
                    continue
                }
                guard matched, t[ti] != slash else { return false }
                pi = end
                ti += 1
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                guard t[ti] == p[pi + 1] else { return false }
                pi += 2
                ti += 1
            default:
                guard t[ti] == c else { return false }
                pi += 1
                ti += 1
            }
        }
        return ti == t.count
    }

    /// Matches `byte` against the class starting at `p[start] == "["`; returns whether
    /// it matched and the index after the closing `]`, or nil when the class is unclosed.
    static func characterClass(_ p: [UInt8], _ start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == UInt8(ascii: "!") || p[i] == UInt8(ascii: "^")) {
            negate = true
            i += 1
        }
        var matched = false
        var first = true
        while i < p.count {
            if p[i] == UInt8(ascii: "]") && !first { return (matched != negate, i + 1) }
            first = false
            var low = p[i]
            if low == UInt8(ascii: "\\") && i + 1 < p.count {
                i += 1
                low = p[i]
            }
            if i + 2 < p.count && p[i + 1] == UInt8(ascii: "-") && p[i + 2] != UInt8(ascii: "]") {
                if low <= byte && byte <= p[i + 2] { matched = true }
                i += 3
            } else {
                if low == byte { matched = true }
                i += 1
            }
        }
        return nil
    }
}

/// The patterns of every ignore file that applies, in order of precedence (later
/// wins): a directory's files come after its parent's, and `.dstackignore` after
/// `.gitignore` in the same directory.
public struct IgnoreRules: Sendable, Equatable {
    public var patterns: [IgnorePattern] = []

    public init(patterns: [IgnorePattern] = []) {
        self.patterns = patterns
    }

    /// Adds the lines of an ignore file found in `base` ("" for the root).
    public mutating func add(contents: String, base: String) {
        patterns += contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .compactMap { IgnorePattern(line: String($0), base: base) }
    }

    /// Whether this path itself is ignored: the last pattern that matches decides.
    public func ignores(_ path: String, isDirectory: Bool) -> Bool {
        for pattern in patterns.reversed() where pattern.matches(path, isDirectory: isDirectory) {
            return !pattern.negated
        }
        return false
    }

    /// Whether a file is left out: it is ignored, or one of its directories is (git
    /// cannot re-include a file inside an ignored directory, and neither can we).
    public func excludes(file path: String) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
            if ignores(prefix, isDirectory: true) { return true }
        }
        return ignores(path, isDirectory: false)
    }
}
