import COpenSSL

/// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto, plus lower-case hex. These are
/// the only primitives SigV4 needs.
enum Crypto {
    static func sha256<Bytes: Collection>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let done: Void? = data.withContiguousStorageIfAvailable { buffer in
            _ = SHA256(buffer.baseAddress, buffer.count, &digest)
        }
        if done == nil {
            let copy = Array(data)
            copy.withUnsafeBufferPointer { _ = SHA256($0.baseAddress, $0.count, &digest) }
        }
        return digest
    }

    static func sha256(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { sha256($0) }
    }

    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    static func hmacSHA256(key: [UInt8], _ text: String) -> [UInt8] {
        hmacSHA256(key: key, data: Array(text.utf8))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

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
        let input = Array(text.utf8)
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let b0 = Int(input[index])
            let b1 = index + 1 < input.count ? Int(input[index + 1]) : 0
            let b2 = index + 2 < input.count ? Int(input[index + 2]) : 0
            out.append(table[b0 >> 2])
            out.append(table[((b0 & 0x03) << 4) | (b1 >> 4)])
            out.append(index + 1 < input.count ? table[((b1 & 0x0f) << 2) | (b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < input.count ? table[b2 & 0x3f] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
