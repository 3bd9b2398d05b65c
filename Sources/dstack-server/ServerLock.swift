import DstackCLIKit
import DstackCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `dstack server` per `DSTACK_HOME`: two would both reconcile the same state and
/// launch twice. The server holds an exclusive `flock` on `server.lock` for as long as
/// it runs, with its pid and port written inside so a second one can say who holds it.
/// The kernel drops the lock when the process dies, however it dies, so a file left by
/// a dead server never blocks the next one.
final class ServerLock {
    static let fileName = "server.lock"
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the lock for this process serving `port`, or says which server holds it.
    static func acquire(home: DstackHome, port: Int) throws -> ServerLock {
        let path = home.url.appendingPathComponent(fileName).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CLIError("cannot open the server lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Holder(text: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            close(descriptor)
            if let holder {
                throw CLIError("another dstack server (pid \(holder.pid), port \(holder.port)) is running for \(home.path)")
            }
            throw CLIError("another dstack server is running for \(home.path)")
        }
        let text = Holder(pid: getpid(), port: port).text
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return ServerLock(descriptor: descriptor)
    }

    /// What the lock file says: `pid 1234 port 3000`.
    struct Holder: Equatable {
        var pid: Int32
        var port: Int

        init(pid: Int32, port: Int) {
            self.pid = pid
            self.port = port
        }

        init?(text: String) {
            let words = text.split(whereSeparator: \.isWhitespace)
            guard words.count >= 4, words[0] == "pid", words[2] == "port",
                  let pid = Int32(words[1]), let port = Int(words[3]) else { return nil }
            self.init(pid: pid, port: port)
        }

        var text: String { "pid \(pid) port \(port)\n" }
    }
}
