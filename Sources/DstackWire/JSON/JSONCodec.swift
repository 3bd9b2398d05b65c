import CJansson
import Foundation

/// A document jansson could not read, with where and why.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String

    public var description: String { "line \(line), column \(column): \(reason)" }
}

extension JSONValue {
    /// Parses a complete JSON document with jansson. Any JSON value may stand at the top.
    public static func parse(_ text: String) throws -> JSONValue {
        var error = json_error_t()
        let flags = Int(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
        let root: UnsafeMutablePointer<json_t>? = text.withCString { cString in
            json_loadb(cString, strlen(cString), flags, &error)
        }
        guard let root else {
            let reason = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw JSONParseError(line: Int(error.line), column: Int(error.column), reason: reason)
        }
        defer { json_decref(root) }
        return JSONValue(jansson: root)
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try parse(String(decoding: bytes, as: UTF8.self))
    }

    public enum Style: Sendable {
        /// `{"a":1,"b":[2]}`: for wire formats.
        case compact
        /// `{"a": 1, "b": [2]}`: one line that people read, e.g. `--json` output.
        case spaced
        /// Indented by two spaces, one key a line: for files people edit.
        case pretty
    }

    /// `pretty: true` is `.pretty`, false is `.compact`.
    public func serialized(pretty: Bool) -> String {
        serialized(pretty ? .pretty : .compact)
    }

    /// Prints the value with jansson; object keys keep their order.
    public func serialized(_ style: Style = .compact) -> String {
        let node = makeJansson()
        defer { json_decref(node) }
        var flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER
        switch style {
        case .compact: flags |= JSON_COMPACT
        case .spaced: break
        case .pretty: flags |= 2 /* JSON_INDENT(2) */
        }
        guard let dumped = json_dumps(node, Int(flags)) else { return "null" }
        defer { free(dumped) }
        return String(cString: dumped)
    }

    private init(jansson node: UnsafeMutablePointer<json_t>) {
        switch node.pointee.type {
        case JSON_OBJECT:
            var object = JSONObject()
            var iter = json_object_iter(node)
            while let current = iter {
                let key = String(cString: json_object_iter_key(current))
                object[key] = JSONValue(jansson: json_object_iter_value(current))
                iter = json_object_iter_next(node, current)
            }
            self = .object(object)
        case JSON_ARRAY:
            self = .array((0..<json_array_size(node)).map { JSONValue(jansson: json_array_get(node, $0)) })
        case JSON_STRING:
            let length = json_string_length(node)
            let bytes = UnsafeRawBufferPointer(start: json_string_value(node), count: length)
            self = .string(String(decoding: bytes, as: UTF8.self))
        case JSON_INTEGER:
            self = .int(Int64(json_integer_value(node)))
        case JSON_REAL:
            self = .double(json_real_value(node))
        case JSON_TRUE:
            self = .bool(true)
        case JSON_FALSE:
            self = .bool(false)
        default:
            self = .null
        }
    }

    /// A new jansson node with a reference the caller owns.
    private func makeJansson() -> UnsafeMutablePointer<json_t> {
        switch self {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .double(let d): return json_real(d)
        case .string(let s):
            let utf8 = Array(s.utf8)
            return utf8.withUnsafeBufferPointer { buffer in
                buffer.baseAddress.map { base in
                    base.withMemoryRebound(to: CChar.self, capacity: utf8.count) { json_stringn_nocheck($0, utf8.count) }
                } ?? json_string("")
            }
        case .array(let items):
            let array = json_array()!
            for item in items { json_array_append_new(array, item.makeJansson()) }
            return array
        case .object(let object):
            let node = json_object()!
            for (key, value) in object.entries { json_object_set_new_nocheck(node, key, value.makeJansson()) }
            return node
        }
    }
}
