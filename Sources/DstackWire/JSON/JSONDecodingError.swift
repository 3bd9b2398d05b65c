/// A JSON document that does not have the shape a `Decodable` type asks for. Its
/// description is one sentence that names where, in wire keys:
/// `runs[2].max: expected a whole number, got "abc"`, `instance_type: missing`.
public struct JSONDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where, as the wire spells it: `runs[2].max`; empty for the document itself.
    public var path: String
    /// What is wrong there: `missing`, `expected a string, got 5`.
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { path.isEmpty ? problem : "\(path): \(problem)" }
}

/// One step of a path into a document, as the wire spells it.
enum JSONPathComponent: Sendable {
    case key(String)
    case index(Int)

    /// `runs[2].max`.
    static func render(_ path: [JSONPathComponent]) -> String {
        var text = ""
        for component in path {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

extension JSONValue {
    /// The value as an error sentence shows it: scalars as JSON (long strings cut short),
    /// objects and arrays by kind.
    var shownInError: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let text) where text.count > 40:
            return String(JSONValue.string(String(text.prefix(40))).serialized().dropLast()) + "…\""
        default: return serialized()
        }
    }
}
