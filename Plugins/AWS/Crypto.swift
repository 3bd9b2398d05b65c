import Foundation
import COpenSSL

/// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto, plus lower-case hex. These are
/// the only primitives SigV4 needs.
enum Crypto {
    /// Fetched once: OpenSSL 3's one-shot `SHA256()` and `HMAC()` look the algorithm up
    /// on every call, which costs more than hashing a short EC2 request.
    nonisolated(unsafe) static let md: OpaquePointer = EVP_MD_fetch(nil, "SHA256", nil)

    static func sha256(_ buffer: UnsafeRawBufferPointer) -> [UInt8] {
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        var digest = [UInt8](repeating: 0, count: 32)
        EVP_DigestInit_ex(ctx, md, nil)
        EVP_DigestUpdate(ctx, buffer.baseAddress, buffer.count)
        EVP_DigestFinal_ex(ctx, &digest, nil)
        return digest
    }

    static func sha256<Bytes: Collection>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        if let digest = data.withContiguousStorageIfAvailable({ sha256(UnsafeRawBufferPointer($0)) }) { return digest }
        return Array(data).withUnsafeBytes { sha256($0) }
    }

    static func sha256(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { sha256(UnsafeRawBufferPointer($0)) }
    }

    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        HMACKey(key).mac(data)
    }

    static func hmacSHA256(key: [UInt8], _ text: String) -> [UInt8] {
        HMACKey(key).mac(text)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func hexBytes(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }
}

/// An HMAC-SHA256 key with its inner and outer pads already hashed (RFC 2104), so each
/// MAC is two context copies and two short hashes. Safe to share: MACs only copy it.
final class HMACKey: @unchecked Sendable {
    private let inner: OpaquePointer
    private let outer: OpaquePointer

    init(_ key: [UInt8]) {
        var block = key.count > 64 ? Crypto.sha256(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        inner = EVP_MD_CTX_new()
        outer = EVP_MD_CTX_new()
        let ipad = block.map { $0 ^ 0x36 }
        let opad = block.map { $0 ^ 0x5c }
        EVP_DigestInit_ex(inner, Crypto.md, nil)
        EVP_DigestUpdate(inner, ipad, 64)
        EVP_DigestInit_ex(outer, Crypto.md, nil)
        EVP_DigestUpdate(outer, opad, 64)
    }

    deinit {
        EVP_MD_CTX_free(inner)
        EVP_MD_CTX_free(outer)
    }

    func mac(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        var digest = [UInt8](repeating: 0, count: 32)
        EVP_MD_CTX_copy_ex(ctx, inner)
        EVP_DigestUpdate(ctx, message.baseAddress, message.count)
        EVP_DigestFinal_ex(ctx, &digest, nil)
        EVP_MD_CTX_copy_ex(ctx, outer)
        EVP_DigestUpdate(ctx, digest, 32)
        EVP_DigestFinal_ex(ctx, &digest, nil)
        return digest
    }

    func mac(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { mac($0) } }

    func mac(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { mac(UnsafeRawBufferPointer($0)) }
    }
}
