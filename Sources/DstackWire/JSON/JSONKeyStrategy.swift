/// How Swift property names map to JSON object keys in `JSONValueEncoder` and
/// `JSONValueDecoder`. Keys of a `[String: T]` dictionary are data, never converted.
public enum JSONKeyStrategy: Sendable {
    /// `instanceType` is `instance_type` on the wire (Foundation's convertToSnakeCase rule;
    /// an explicit CodingKeys raw value goes through the same conversion, so
    /// `case id = "instanceID"` is `instance_id`).
    case snakeCase
    /// The CodingKey's string as it is.
    case asIs

    /// The wire key for a Swift coding key.
    func wireKey(_ key: String) -> String {
        switch self {
        case .asIs: return key
        case .snakeCase: return Self.snakeCased(key)
        }
    }

    /// Foundation's convertToSnakeCase: a word starts at each uppercase letter, and a run
    /// of capitals is one word up to the capital before the next lowercase letter
    /// (`myURLValue` is `my_url_value`). Characters other than letters stay in place.
    static func snakeCased(_ key: String) -> String {
        let characters = Array(key)
        guard !characters.isEmpty else { return key }
        var words: [String] = []
        var word = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if index > 0, character.isUppercase {
                // A capital ends the current word unless it continues a run of capitals
                // that is not followed by a lowercase letter.
                let previousIsUpper = characters[index - 1].isUppercase
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if !previousIsUpper || nextIsLower {
                    if !word.isEmpty { words.append(word) }
                    word = ""
                }
            }
            word.append(character)
            index += 1
        }
        if !word.isEmpty { words.append(word) }
        return words.map { $0.lowercased() }.joined(separator: "_")
    }

    /// The reverse, for `allKeys`: `instance_type` is `instanceType`. Leading and trailing
    /// underscores stay, as in Foundation's convertFromSnakeCase.
    static func camelCased(_ key: String) -> String {
        guard key.contains("_") else { return key }
        let leading = key.prefix { $0 == "_" }
        let trailing = String(key.reversed().prefix { $0 == "_" })
        let core = key.dropFirst(leading.count).dropLast(trailing.count)
        guard !core.isEmpty else { return key }
        let parts = core.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first else { return key }
        let camel = first.lowercased() + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
        return leading + camel + trailing
    }
}
