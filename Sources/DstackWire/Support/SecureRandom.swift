import COpenSSL

/// Random bytes from OpenSSL's CSPRNG, for installation IDs, tokens and jitter seeds.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let ok = buffer.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "OpenSSL's random generator failed; refusing to continue without randomness")
        return buffer
    }

    /// `count` random bytes as lower-case hex.
    public static func hex(_ count: Int) -> String {
        bytes(count).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}
