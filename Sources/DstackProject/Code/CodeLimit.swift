/// The limit on the code a run ships, checked on the files' total size before anything
/// is packed or stored.
public struct CodeTooLarge: Error, Equatable {
    public var total: Int
    public var limit: Int
    /// The biggest files, biggest first.
    public var biggest: [CodeFiles.File]

    public static let defaultLimit = 100 * 1024 * 1024

    /// One sentence, then one line per big file, for stderr.
    public var lines: [String] {
        return ["the code to ship is \(ByteSize.format(total)), over the \(ByteSize.format(limit)) limit of --max-code-size "
                + "(list what the run does not need in .dstackignore, raise the limit, 0 for none, or use --no-code); the biggest files are:"]
            + biggest.map { "  \(ByteSize.format($0.size).padding(toLength: 9, withPad: " ", startingAt: 0))  \($0.path)" }
    }

    /// Throws when `files` add up to more than `limit` bytes (0: no limit).
    public static func check(_ files: CodeFiles, limit: Int) throws {
        guard limit > 0, files.totalSize > limit else { return }
        throw CodeTooLarge(total: files.totalSize, limit: limit, biggest: files.biggest(5))
    }
}

import DstackProvider
import DstackWire
import Foundation
