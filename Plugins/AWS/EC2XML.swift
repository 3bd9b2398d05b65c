import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An XML element as a small tree: EC2 replies are a few kilobytes, and a tree keeps
/// the code that reads them short. Built with FoundationXML's `XMLParser`.
public struct XMLElementNode: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [XMLElementNode]

    /// The first child with this name.
    public func child(_ name: String) -> XMLElementNode? {
        children.first { $0.name == name }
    }

    /// The text of the element at `path` (child names), or nil if any step is missing.
    public func string(_ path: String...) -> String? {
        var node = self
        for step in path {
            guard let next = node.child(step) else { return nil }
            node = next
        }
        return node.text
    }

    /// The `<item>` children of the set element at `path` (EC2's list encoding).
    public func items(_ path: String...) -> [XMLElementNode] {
        var node = self
        for step in path {
            guard let next = node.child(step) else { return [] }
            node = next
        }
        return node.children.filter { $0.name == "item" }
    }

    /// Every descendant (and self) with this name, depth first.
    public func all(named name: String) -> [XMLElementNode] {
        var found: [XMLElementNode] = self.name == name ? [self] : []
        for child in children { found += child.all(named: name) }
        return found
    }
}

public struct XMLParseError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Parses a whole document into an `XMLElementNode` tree. Namespaces are dropped from
/// names (EC2 puts every element in its one namespace).
enum EC2XML {
    static func parse(_ bytes: [UInt8]) throws -> XMLElementNode {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.delegate = delegate
        guard parser.parse(), let root = delegate.root else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? delegate.failure ?? "no root element"
            throw XMLParseError(description: "malformed XML (\(reason))")
        }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [XMLElementNode] = []
    var root: XMLElementNode?
    var failure: String?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        stack.append(XMLElementNode(name: elementName, text: "", children: []))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard var node = stack.popLast() else { return }
        if !node.children.isEmpty { node.text = node.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].children.append(node)
        }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        failure = "\(parseError)"
    }
}
