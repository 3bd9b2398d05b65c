/// A transfer that streams through files instead of memory: an artifact of any size
/// crosses the wire through libcurl's small buffer (the runner's memory stays flat for
/// a 1 GiB file). The caller owns the descriptors.
public struct HTTPStreaming: Sendable {
    /// A byte range of an open file, sent as the body of a PUT.
    public struct FileRange: Sendable {
        public var fd: Int32
        public var offset: Int64
        public var length: Int64

        public init(fd: Int32, offset: Int64, length: Int64) {
            self.fd = fd
            self.offset = offset
            self.length = length
        }
    }

    public var upload: FileRange?
    /// A 2xx reply's body is appended here; any other reply's body is read into
    /// `HTTPResponse.body` as usual (an error sentence, never mixed into the file).
    public var downloadFD: Int32?
    /// Seconds under 1 KiB/s after which the transfer fails; for clients whose total
    /// timeout is 0 (none), so a dead link still ends.
    public var stallTimeout: Int?

    public init(upload: FileRange? = nil, downloadFD: Int32? = nil, stallTimeout: Int? = 60) {
        self.upload = upload
        self.downloadFD = downloadFD
        self.stallTimeout = stallTimeout
    }
}
