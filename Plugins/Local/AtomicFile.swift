import DstackCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed file-system call, with the path and errno text, as the one error type
/// providers report.
func localIOError(_ what: String, _ path: String, _ code: Int32 = errno) -> ProviderError {
    .cloud(code: "LocalIOError", detail: "\(what) \(path): \(String(cString: strerror(code)))")
}

/// Replaces a whole file so that readers see the old contents or the new, never a torn
/// half: temp file in the same directory, fsync, rename.
enum AtomicFile {
    static func replace(_ path: String, with text: String, mode: mode_t = 0o644) throws {
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw localIOError("cannot create", temp) }
        var failure: Int32 = 0
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            done += n
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        guard failure == 0 else {
            unlink(temp)
            throw localIOError("cannot write", temp, failure)
        }
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw localIOError("cannot rename to", path, code)
        }
    }
}
