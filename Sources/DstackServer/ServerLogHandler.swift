import DstackCore
import Foundation
import Logging

/// The server's log as a swift-log handler: each message one line on stderr, stamped
/// with its UTC time (`ServerLog`), which operators grep and tests read. Metadata is
/// left out: the server's messages name their runs and instances in the sentence.
public struct ServerLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    public init(logLevel: Logger.Level = .info, write: @escaping @Sendable (String) -> Void = ServerLogHandler.standardError) {
        self.logLevel = logLevel
        self.write = write
    }

    /// A logger with this handler: the server's default.
    public static func logger(label: String = "dstack.server", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in ServerLogHandler(logLevel: level) }
        logger.logLevel = level
        return logger
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    public func log(event: LogEvent) {
        write(ServerLog.line(event.message.description))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
