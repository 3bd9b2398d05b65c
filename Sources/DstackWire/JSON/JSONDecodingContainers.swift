/// The containers `JSONValueDecoder` hands to `init(from:)`. Each knows its place in the
/// document (`path`, in wire keys) so that every error names where it happened.
struct NodeKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let context: DecodingContext
    let path: [JSONPathComponent]
    let codingPath: [any CodingKey]

    private func wireKey(_ key: any CodingKey) -> String { context.keyStrategy.wireKey(key.stringValue) }

    /// The keys present that name a `Key`: each wire key read back through the strategy.
    var allKeys: [Key] {
        object.keys.compactMap { wire in
            for candidate in [JSONKeyStrategy.camelCased(wire), wire] {
                if let key = Key(stringValue: candidate), wireKey(key) == wire { return key }
            }
            return nil
        }
    }

    func contains(_ key: Key) -> Bool { object[wireKey(key)] != nil }

    /// True for `null` and for an absent key alike: both mean "no value" to an optional.
    func decodeNil(forKey key: Key) throws -> Bool { (object[wireKey(key)] ?? .null) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let wire = wireKey(key)
        guard let value = object[wire] else { throw context.missing(path + [.key(wire)]) }
        return try context.decode(T.self, from: value, path: path + [.key(wire)], codingPath: codingPath + [key])
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        let wire = wireKey(key)
        guard let value = object[wire], value != .null else { return nil }
        return try context.decode(T.self, from: value, path: path + [.key(wire)], codingPath: codingPath + [key])
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type as Bool.Type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type as String.Type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type as Double.Type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type as Float.Type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type as Int.Type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type as Int8.Type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type as Int16.Type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type as Int32.Type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type as Int64.Type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type as UInt.Type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type as UInt8.Type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type as UInt16.Type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type as UInt32.Type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type as UInt64.Type, key) }

    /// The primitives go through the generic path, whose single value container checks them.
    private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        let wire = wireKey(key)
        guard let value = object[wire] else { throw context.missing(path + [.key(wire)]) }
        return try context.decode(T.self, from: value, path: path + [.key(wire)], codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(forKey: key, required: true).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(forKey: key, required: true).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let wire = wireKey(JSONCodingKey.superKey)
        return NodeDecoder(value: object[wire] ?? .null, context: context, path: path + [.key(wire)], codingPath: codingPath + [JSONCodingKey.superKey])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try decoder(forKey: key, required: false)
    }

    private func decoder(forKey key: Key, required: Bool) throws -> NodeDecoder {
        let wire = wireKey(key)
        let found: JSONValue? = object[wire] ?? (required ? nil : JSONValue.null)
        guard let value = found else { throw context.missing(path + [.key(wire)]) }
        return NodeDecoder(value: value, context: context, path: path + [.key(wire)], codingPath: codingPath + [key])
    }
}

struct NodeUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let context: DecodingContext
    let path: [JSONPathComponent]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(items: [JSONValue], context: DecodingContext, path: [JSONPathComponent], codingPath: [any CodingKey]) {
        self.items = items
        self.context = context
        self.path = path
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private func checkNotAtEnd() throws {
        guard !isAtEnd else {
            throw JSONDecodingError(path: JSONPathComponent.render(path), problem: "expected more than \(items.count) items")
        }
    }

    mutating func decodeNil() throws -> Bool {
        try checkNotAtEnd()
        guard items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try checkNotAtEnd()
        let decoded = try context.decode(
            T.self, from: items[currentIndex], path: path + [.index(currentIndex)],
            codingPath: codingPath + [JSONCodingKey(intValue: currentIndex)]
        )
        currentIndex += 1
        return decoded
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decode(type as Bool.Type, next: ()) }
    mutating func decode(_ type: String.Type) throws -> String { try decode(type as String.Type, next: ()) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decode(type as Double.Type, next: ()) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decode(type as Float.Type, next: ()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decode(type as Int.Type, next: ()) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decode(type as Int8.Type, next: ()) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decode(type as Int16.Type, next: ()) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decode(type as Int32.Type, next: ()) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decode(type as Int64.Type, next: ()) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decode(type as UInt.Type, next: ()) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decode(type as UInt8.Type, next: ()) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decode(type as UInt16.Type, next: ()) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decode(type as UInt32.Type, next: ()) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decode(type as UInt64.Type, next: ()) }

    /// The primitives go through the generic path, whose single value container checks them.
    private mutating func decode<T: Decodable>(_ type: T.Type, next: Void) throws -> T {
        try decode(T.self)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try nextDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try nextDecoder().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try nextDecoder()
    }

    private mutating func nextDecoder() throws -> NodeDecoder {
        try checkNotAtEnd()
        defer { currentIndex += 1 }
        return NodeDecoder(
            value: items[currentIndex], context: context, path: path + [.index(currentIndex)],
            codingPath: codingPath + [JSONCodingKey(intValue: currentIndex)]
        )
    }
}

struct NodeSingleValueDecodingContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let context: DecodingContext
    let path: [JSONPathComponent]
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try context.bool(value, path) }
    func decode(_ type: String.Type) throws -> String { try context.string(value, path) }
    func decode(_ type: Double.Type) throws -> Double { try context.double(value, path) }
    func decode(_ type: Float.Type) throws -> Float { try context.float(value, path) }
    func decode(_ type: Int.Type) throws -> Int { try context.integer(value, path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try context.integer(value, path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try context.integer(value, path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try context.integer(value, path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try context.integer(value, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try context.integer(value, path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try context.integer(value, path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try context.integer(value, path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try context.integer(value, path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try context.integer(value, path) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try context.decode(T.self, from: value, path: path, codingPath: codingPath)
    }
}
