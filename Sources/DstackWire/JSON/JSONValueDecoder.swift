import Foundation

/// Decodes `Decodable` values from a `JSONValue`, strictly: a value of the wrong type, an
/// integer out of range or with a fraction, an unknown enum value or a missing required
/// key throws a `JSONDecodingError` whose one sentence names the key path. Optional
/// properties read `null` and absent keys as nil; unknown keys are ignored unless
/// `rejectsUnknownKeys` is set.
public struct JSONValueDecoder: Sendable {
    public var keyStrategy: JSONKeyStrategy = .snakeCase
    /// A key that names no property of the type being decoded is an error (a request
    /// with a misspelt or extra field is refused, not half read). Off for files and
    /// replies, which a newer version may extend.
    public var rejectsUnknownKeys = false

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try DecodingContext(keyStrategy: keyStrategy, rejectsUnknownKeys: rejectsUnknownKeys).decode(T.self, from: value, path: [], codingPath: [])
    }

    /// Parses `text` with jansson first; text that is not JSON is a `JSONDecodingError` too.
    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch let error as JSONParseError {
            throw JSONDecodingError(path: "", problem: "not valid JSON (\(error))")
        }
        return try decode(T.self, from: value)
    }
}

struct DecodingContext {
    var keyStrategy: JSONKeyStrategy
    var rejectsUnknownKeys = false

    /// Decodes one value, with the types the wire spells its own way first.
    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, path: [JSONPathComponent], codingPath: [any CodingKey]) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        if T.self == Date.self {
            guard case .string(let text) = value, let date = JSONDate.date(text) else {
                throw mismatch("an ISO 8601 UTC time like \(JSONDate.example)", value, path)
            }
            return date as! T
        }
        if T.self == URL.self {
            guard case .string(let text) = value, let url = URL(string: text) else { throw mismatch("a URL", value, path) }
            return url as! T
        }
        if T.self == Data.self {
            guard case .string(let text) = value, let data = Data(base64Encoded: text) else {
                throw mismatch("base64 data", value, path)
            }
            return data as! T
        }
        if let dictionary = T.self as? any StringKeyedDecodable.Type {
            return try dictionary.init(decodingEntriesOf: value, context: self, path: path, codingPath: codingPath) as! T
        }
        do {
            return try T(from: NodeDecoder(value: value, context: self, path: path, codingPath: codingPath))
        } catch let error as DecodingError {
            // Thrown by a type's own init(from:), e.g. an enum's synthesized raw value check.
            throw translated(error, decoding: T.self, from: value, path: path, codingPath: codingPath)
        }
    }

    func mismatch(_ expected: String, _ value: JSONValue, _ path: [JSONPathComponent]) -> JSONDecodingError {
        JSONDecodingError(path: JSONPathComponent.render(path), problem: "expected \(expected), got \(value.shownInError)")
    }

    func bool(_ value: JSONValue, _ path: [JSONPathComponent]) throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch("true or false", value, path) }
        return bool
    }

    func string(_ value: JSONValue, _ path: [JSONPathComponent]) throws -> String {
        guard case .string(let string) = value else { throw mismatch("a string", value, path) }
        return string
    }

    func double(_ value: JSONValue, _ path: [JSONPathComponent]) throws -> Double {
        switch value {
        case .int(let int): return Double(int)
        case .double(let double): return double
        default: throw mismatch("a number", value, path)
        }
    }

    func float(_ value: JSONValue, _ path: [JSONPathComponent]) throws -> Float {
        let double = try self.double(value, path)
        guard abs(double) <= Double(Float.greatestFiniteMagnitude) else {
            throw mismatch("a number that fits a 32-bit float", value, path)
        }
        return Float(double)
    }

    /// A whole number that fits `I`; `2.0` counts as whole, `2.5` does not.
    func integer<I: FixedWidthInteger>(_ value: JSONValue, _ path: [JSONPathComponent]) throws -> I {
        let fitted: I?
        switch value {
        case .int(let int):
            fitted = I(exactly: int)
        case .double(let double) where double.isFinite && double == double.rounded(.towardZero):
            fitted = I(exactly: double)
        default:
            throw mismatch("a whole number", value, path)
        }
        guard let fitted else { throw mismatch("a whole number from \(I.min) to \(I.max)", value, path) }
        return fitted
    }

    func missing(_ path: [JSONPathComponent]) -> JSONDecodingError {
        JSONDecodingError(path: JSONPathComponent.render(path), problem: "missing")
    }

    /// The wire path of a key below `codingPath`, as a type's own error names it.
    private func wirePath(of errorPath: [any CodingKey], below path: [JSONPathComponent], codingPath: [any CodingKey]) -> [JSONPathComponent] {
        guard errorPath.count > codingPath.count else { return path }
        return path + errorPath[codingPath.count...].map { key in
            if let index = key.intValue { return .index(index) }
            return .key(keyStrategy.wireKey(key.stringValue))
        }
    }

    private func translated<T>(_ error: DecodingError, decoding type: T.Type, from value: JSONValue, path: [JSONPathComponent], codingPath: [any CodingKey]) -> JSONDecodingError {
        switch error {
        case .dataCorrupted(let context):
            let errorPath = wirePath(of: context.codingPath, below: path, codingPath: codingPath)
            if errorPath.count == path.count, case .string = value {
                if let cases = T.self as? any (CaseIterable & RawRepresentable).Type {
                    let names = Self.rawNames(of: cases).map { JSONValue.string($0).serialized() }
                    if !names.isEmpty { return mismatch("one of \(names.joined(separator: ", "))", value, path) }
                }
                return JSONDecodingError(path: JSONPathComponent.render(path), problem: "\(value.shownInError) is not an accepted value")
            }
            return JSONDecodingError(path: JSONPathComponent.render(errorPath), problem: context.debugDescription)
        case .keyNotFound(let key, let context):
            return missing(wirePath(of: context.codingPath + [key], below: path, codingPath: codingPath))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return JSONDecodingError(path: JSONPathComponent.render(wirePath(of: context.codingPath, below: path, codingPath: codingPath)), problem: context.debugDescription)
        @unknown default:
            return JSONDecodingError(path: JSONPathComponent.render(path), problem: "\(error)")
        }
    }

    private static func rawNames<C: CaseIterable & RawRepresentable>(of type: C.Type) -> [String] {
        C.allCases.compactMap { $0.rawValue as? String }
    }
}

/// `[String: T]`: keys are data, so no key strategy.
protocol StringKeyedDecodable {
    init(decodingEntriesOf value: JSONValue, context: DecodingContext, path: [JSONPathComponent], codingPath: [any CodingKey]) throws
}

extension Dictionary: StringKeyedDecodable where Key == String, Value: Decodable {
    init(decodingEntriesOf value: JSONValue, context: DecodingContext, path: [JSONPathComponent], codingPath: [any CodingKey]) throws {
        guard case .object(let object) = value else { throw context.mismatch("an object", value, path) }
        self.init(minimumCapacity: object.count)
        for (key, entry) in object.entries {
            self[key] = try context.decode(Value.self, from: entry, path: path + [.key(key)], codingPath: codingPath + [JSONCodingKey(key)])
        }
    }
}

struct NodeDecoder: Decoder {
    let value: JSONValue
    let context: DecodingContext
    let path: [JSONPathComponent]
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw context.mismatch("an object", value, path) }
        let container = NodeKeyedDecodingContainer<Key>(object: object, context: context, path: path, codingPath: codingPath)
        if context.rejectsUnknownKeys {
            let known = Set(container.allKeys.map { context.keyStrategy.wireKey($0.stringValue) })
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw JSONDecodingError(path: JSONPathComponent.render(path + [.key(unknown)]), problem: "not a known field")
            }
        }
        return KeyedDecodingContainer(container)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw context.mismatch("an array", value, path) }
        return NodeUnkeyedDecodingContainer(items: items, context: context, path: path, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        NodeSingleValueDecodingContainer(value: value, context: context, path: path, codingPath: codingPath)
    }
}
