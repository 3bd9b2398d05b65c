import DstackAPI
import DstackCLIKit
import DstackProject
import DstackWire
import Foundation

/// Downloads artifact files into a directory: each to `FILE.dstack-partial` (resumed
/// with a range request when one is there from an interrupted run), its SHA-256 checked
/// against the manifest, then renamed to its name. Nothing is written outside the
/// directory: paths are checked, and every directory on the way must be a real one,
/// never a symlink. On a terminal a progress bar is redrawn in place; otherwise one
/// line per file.
struct ArtifactDownloader {
    let endpoint: ServerEndpointSettings
    /// The resolved directory files go under.
    let root: String
    let showProgress: Bool
    private let http: CurlHTTPClient

    init(endpoint: ServerEndpointSettings, directory: String, showProgress: Bool) throws {
        self.endpoint = endpoint
        self.showProgress = showProgress
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(directory): \(error.localizedDescription)")
        }
        guard let resolved = realpath(directory, nil) else { throw CLIError("cannot resolve \(directory)") }
        root = String(cString: resolved)
        free(resolved)
        http = CurlHTTPClient(options: .init(connectTimeout: 10, totalTimeout: 0, pinnedPublicKey: endpoint.pin))
    }

    func download(_ file: ArtifactDownload) throws {
        guard ArtifactPath.isCanonical(file.path) else {
            throw CLIError("the server named an artifact '\(file.path)' that would be written outside \(root); nothing was written for it")
        }
        let components = file.path.split(separator: "/").map(String.init)
        let parent = try makeDirectories(components.dropLast())
        let final = parent + "/" + components[components.count - 1]
        let partial = final + ".dstack-partial"
        if isRegularFile(final), (try? FileDigest.sha256Hex(path: final)) == file.sha256 {
            report(file, "already there")
            return
        }
        for attempt in 1...2 {
            try fetch(file, to: partial)
            let actual = try FileDigest.sha256Hex(path: partial)
            if actual == file.sha256 { break }
            unlink(partial)
            if attempt == 2 {
                throw CLIError("\(file.path) arrived with SHA-256 \(actual), not \(file.sha256) as the manifest says; nothing was kept")
            }
        }
        var info = stat()
        if lstat(final, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw CLIError("\(final) is a directory; the artifact \(file.path) cannot take its place")
        }
        guard rename(partial, final) == 0 else { throw CLIError("cannot rename \(partial) to \(final): \(String(cString: strerror(errno)))") }
        report(file, "downloaded")
    }

    /// Appends the rest of the file to `partial`: from where an earlier run stopped, or
    /// from the start. Retries dropped connections and 5xx a few times.
    private func fetch(_ file: ArtifactDownload, to partial: String) throws {
        var failures = 0
        while true {
            var have = fileSize(partial) ?? 0
            if have > file.size {
                unlink(partial)
                have = 0
            }
            if have == file.size { return }
            let fd = open(partial, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError("cannot write \(partial): \(String(cString: strerror(errno)))") }
            let progress = showProgress ? ProgressLine(path: file.path, partial: partial, size: file.size) : nil
            let presigned = !file.url.hasPrefix("/")
            var headers: [HTTPHeader] = []
            if !presigned, let token = endpoint.token { headers.append(HTTPHeader("Authorization", "Bearer \(token)")) }
            if have > 0 { headers.append(HTTPHeader("Range", "bytes=\(have)-")) }
            let request = HTTPRequest(method: "GET", url: presigned ? file.url : endpoint.url + file.url, headers: headers)
            let outcome = Result { try http.sendBlocking(request, streaming: HTTPStreaming(downloadFD: fd)) }
            close(fd)
            progress?.finish()
            let problem: String
            switch outcome {
            case .success(let reply) where reply.status == 206 || (reply.status == 200 && have == 0): return
            case .success(let reply) where reply.status == 416: return // nothing left: the partial is whole
            case .success(let reply) where reply.status == 200:
                // The range was ignored: the whole file followed the partial. Start over.
                unlink(partial)
                problem = "the server ignored the range request"
            case .success(let reply) where reply.status >= 500:
                problem = "\(presigned ? "the bucket" : "the server") answered \(reply.status)"
            case .success(let reply):
                let sentence = (try? JSONValueDecoder().decode(APIErrorReply.self, from: reply.bodyText))?.error ?? reply.bodyText
                throw CLIError("could not download \(file.path) (\(reply.status)): \(sentence.prefix(300)); the partial file \(partial) is kept for a later try")
            case .failure(let error):
                problem = "\(error)"
            }
            failures += 1
            if failures >= 5 {
                throw CLIError("could not download \(file.path): \(problem); run the command again to resume from \(partial)")
            }
            Thread.sleep(forTimeInterval: Double(failures) * 0.5)
        }
    }

    /// Makes each directory under the root in turn; one that exists must be a real
    /// directory, not a symlink (which could lead outside).
    private func makeDirectories(_ components: ArraySlice<String>) throws -> String {
        var path = root
        for component in components {
            path += "/" + component
            var info = stat()
            if lstat(path, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw CLIError("\(path) is in the way: it is not a directory (a symlink or a file); nothing was written there")
                }
            } else if mkdir(path, 0o755) != 0, errno != EEXIST {
                throw CLIError("cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        return path
    }

    private func report(_ file: ArtifactDownload, _ what: String) {
        say("\(what) \(file.path) (\(ByteSize.format(file.size)))")
    }

    private func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    private func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }
}

/// A progress bar for one file on a terminal, redrawn in place four times a second
/// from the partial file's size (the transfer itself runs on the calling thread).
final class ProgressLine: @unchecked Sendable { // `condition` guards `done`
    private let condition = NSCondition()
    private var done = false
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, partial: String, size: Int) {
        let thread = Thread { [self] in
            while true {
                var info = stat()
                let have = lstat(partial, &info) == 0 ? Int(info.st_size) : 0
                Self.draw(path: path, have: have, size: size)
                let stop = condition.withLock { () -> Bool in
                    if !done { _ = condition.wait(until: Date().addingTimeInterval(0.25)) }
                    return done
                }
                if stop { break }
            }
            FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
            finished.signal()
        }
        thread.start()
    }

    func finish() {
        condition.withLock {
            done = true
            condition.broadcast()
        }
        finished.wait()
    }

    static func draw(path: String, have: Int, size: Int) {
        let fraction = size > 0 ? min(1, Double(have) / Double(size)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r[\(bar)] \(String(format: "%3d", Int(fraction * 100)))% \(path) \(ByteSize.format(have))/\(ByteSize.format(size))\u{1B}[K"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
