import Foundation

/// Encodes `Encodable` values into a `JSONValue` (which jansson then prints). Object keys
/// keep the order they were encoded in; property names go through `keyStrategy`; a
/// `[String: T]` keeps its keys as they are, sorted; `Date` is an ISO 8601 UTC string;
/// a `JSONValue` property embeds as is; a nil optional property is left out, or written
/// as `null` with `nilAsNull` (the API does, so every key of its documented shapes is there).
public struct JSONValueEncoder: Sendable {
    public var keyStrategy: JSONKeyStrategy = .snakeCase
    public var nilAsNull = false

    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = EncodedNode()
        try EncodingContext(keyStrategy: keyStrategy, nilAsNull: nilAsNull).encode(value, into: node, codingPath: [])
        return node.value
    }
}

/// One value being built. A reference, so that containers handed out earlier still
/// write into the document.
final class EncodedNode {
    enum Content {
        case empty
        case value(JSONValue)
        case object(keys: [String], nodes: [String: EncodedNode])
        case array([EncodedNode])
    }

    var content: Content = .empty

    var value: JSONValue {
        switch content {
        case .empty: return .object(JSONObject())
        case .value(let value): return value
        case .array(let nodes): return .array(nodes.map(\.value))
        case .object(let keys, let nodes):
            var object = JSONObject()
            for key in keys { object[key] = nodes[key]!.value }
            return .object(object)
        }
    }

    /// The child under `key`, created (at the end of the key order) when new. Encoding
    /// a key twice replaces its value in place.
    func child(forKey key: String) -> EncodedNode {
        var (keys, nodes): ([String], [String: EncodedNode]) = ([], [:])
        if case .object(let existingKeys, let existingNodes) = content { (keys, nodes) = (existingKeys, existingNodes) }
        let node = EncodedNode()
        if nodes[key] == nil { keys.append(key) }
        nodes[key] = node
        content = .object(keys: keys, nodes: nodes)
        return node
    }

    func becomeObject() {
        if case .object = content { return }
        content = .object(keys: [], nodes: [:])
    }

    func appendChild() -> EncodedNode {
        var nodes: [EncodedNode] = []
        if case .array(let existing) = content { nodes = existing }
        let node = EncodedNode()
        nodes.append(node)
        content = .array(nodes)
        return node
    }

    func becomeArray() {
        if case .array = content { return }
        content = .array([])
    }
}

struct EncodingContext {
    var keyStrategy: JSONKeyStrategy
    var nilAsNull = false

    /// Encodes one value into `node`, with the types the wire spells its own way first.
    func encode<T: Encodable>(_ value: T, into node: EncodedNode, codingPath: [any CodingKey]) throws {
        switch value {
        case let date as Date:
            node.content = .value(.string(JSONDate.text(date)))
        case let json as JSONValue:
            node.content = .value(json)
        case let url as URL:
            node.content = .value(.string(url.absoluteString))
        case let data as Data:
            node.content = .value(.string(data.base64EncodedString()))
        case let dictionary as any StringKeyedEncodable:
            node.becomeObject()
            try dictionary.encodeEntries(into: node, context: self, codingPath: codingPath)
        default:
            try value.encode(to: NodeEncoder(node: node, context: self, codingPath: codingPath))
        }
    }

    func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        return .double(value)
    }

    func integer<I: BinaryInteger>(_ value: I, codingPath: [any CodingKey]) throws -> JSONValue {
        guard let exact = Int64(exactly: value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) does not fit a JSON integer"))
        }
        return .int(exact)
    }
}

/// `[String: T]`: keys are data, so no key strategy, and sorted so output is stable.
protocol StringKeyedEncodable {
    func encodeEntries(into node: EncodedNode, context: EncodingContext, codingPath: [any CodingKey]) throws
}

extension Dictionary: StringKeyedEncodable where Key == String, Value: Encodable {
    func encodeEntries(into node: EncodedNode, context: EncodingContext, codingPath: [any CodingKey]) throws {
        for key in keys.sorted() {
            try context.encode(self[key]!, into: node.child(forKey: key), codingPath: codingPath + [JSONCodingKey(key)])
        }
    }
}

/// A coding key made from a string or an index.
struct JSONCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(_ string: String) { stringValue = string }
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    static let superKey = JSONCodingKey("super")
}

struct NodeEncoder: Encoder {
    let node: EncodedNode
    let context: EncodingContext
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.becomeObject()
        return KeyedEncodingContainer(NodeKeyedEncodingContainer<Key>(node: node, context: context, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.becomeArray()
        return NodeUnkeyedEncodingContainer(node: node, context: context, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        NodeSingleValueEncodingContainer(node: node, context: context, codingPath: codingPath)
    }
}

struct NodeKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodedNode
    let context: EncodingContext
    let codingPath: [any CodingKey]

    private func child(_ key: any CodingKey) -> EncodedNode {
        node.child(forKey: context.keyStrategy.wireKey(key.stringValue))
    }

    private func set(_ value: JSONValue, _ key: Key) { child(key).content = .value(value) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }

    // Synthesized Encodable calls these for optional properties; by default a nil is
    // left out, with `nilAsNull` it is written as null.
    private mutating func encodeIfPresentValue<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else if context.nilAsNull { set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try encodeIfPresentValue(value, forKey: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try context.number(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try context.number(Double(String(value)) ?? Double(value), codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try context.integer(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try context.integer(value, codingPath: codingPath + [key]), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try context.encode(value, into: child(key), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = child(key)
        nested.becomeObject()
        return KeyedEncodingContainer(NodeKeyedEncodingContainer<NestedKey>(node: nested, context: context, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = child(key)
        nested.becomeArray()
        return NodeUnkeyedEncodingContainer(node: nested, context: context, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(node: child(JSONCodingKey.superKey), context: context, codingPath: codingPath + [JSONCodingKey.superKey])
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: child(key), context: context, codingPath: codingPath + [key])
    }
}

struct NodeUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let node: EncodedNode
    let context: EncodingContext
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let nodes) = node.content { return nodes.count }
        return 0
    }

    private var nextKey: JSONCodingKey { JSONCodingKey(intValue: count) }
    private func append(_ value: JSONValue) { node.appendChild().content = .value(value) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try context.number(value, codingPath: codingPath + [nextKey])) }
    mutating func encode(_ value: Float) throws { append(try context.number(Double(String(value)) ?? Double(value), codingPath: codingPath + [nextKey])) }
    mutating func encode(_ value: Int) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { append(.int(value)) }
    mutating func encode(_ value: UInt) throws { append(try context.integer(value, codingPath: codingPath + [nextKey])) }
    mutating func encode(_ value: UInt8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { append(try context.integer(value, codingPath: codingPath + [nextKey])) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let key = nextKey
        try context.encode(value, into: node.appendChild(), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let key = nextKey
        let nested = node.appendChild()
        nested.becomeObject()
        return KeyedEncodingContainer(NodeKeyedEncodingContainer<NestedKey>(node: nested, context: context, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let key = nextKey
        let nested = node.appendChild()
        nested.becomeArray()
        return NodeUnkeyedEncodingContainer(node: nested, context: context, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        let key = nextKey
        return NodeEncoder(node: node.appendChild(), context: context, codingPath: codingPath + [key])
    }
}

struct NodeSingleValueEncodingContainer: SingleValueEncodingContainer {
    let node: EncodedNode
    let context: EncodingContext
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue) { node.content = .value(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try context.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws { set(try context.number(Double(String(value)) ?? Double(value), codingPath: codingPath)) }
    mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(value)) }
    mutating func encode(_ value: UInt) throws { set(try context.integer(value, codingPath: codingPath)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { set(try context.integer(value, codingPath: codingPath)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try context.encode(value, into: node, codingPath: codingPath)
    }
}
