import COpenSSL
import Foundation

/// SHA-256 from OpenSSL, for storing only the hashes of runner tokens.
public enum TokenHash {
    public static func sha256Hex(_ text: String) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { _ = SHA256($0.baseAddress, $0.count, &digest) }
        return digest.map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}

/// SHA-256 of a file, read in chunks: runner binaries and code archives are tens of
/// megabytes and are never held whole in memory for this.
public enum FileDigest {
    public static func sha256Hex(path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw FileDigestError(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(file) }
        guard let context = EVP_MD_CTX_new() else { throw FileDigestError(path: path, reason: "out of memory") }
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { EVP_DigestUpdate(context, buffer, n) }
            if n < buffer.count {
                if ferror(file) != 0 { throw FileDigestError(path: path, reason: "read error") }
                break
            }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}

public struct FileDigestError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}
