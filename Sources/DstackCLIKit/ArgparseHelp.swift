import Foundation

/// Reshapes swift-argument-parser's help into the argparse style the seed document
/// shows (`usage: dstack autoscale allow --max MAX INSTANCE_TYPE`, "positional
/// arguments:", "optional arguments:"), so the CLI reads like its documentation.
public enum ArgparseHelp {
    public static func restyle(_ help: String) -> String {
        var sections: [(title: String, lines: [String])] = []
        for line in help.components(separatedBy: "\n") {
            if let title = sectionTitle(line) {
                let rest = line.dropFirst(title.count + 1).trimmingCharacters(in: .whitespaces)
                sections.append((title, rest.isEmpty ? [] : [rest]))
            } else if sections.isEmpty {
                sections.append(("OVERVIEW", [line]))
            } else {
                sections[sections.count - 1].lines.append(line)
            }
        }
        func body(_ title: String) -> [String] {
            let lines = sections.filter { $0.title == title }.flatMap(\.lines)
            return trimBlank(lines.map(unbracket))
        }
        var out: [String] = []
        let usage = body("USAGE")
        if !usage.isEmpty { out.append("usage: " + usage.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")) }
        for (title, heading) in [("OVERVIEW", ""), ("ARGUMENTS", "positional arguments:"),
                                 ("OPTIONS", "optional arguments:"), ("SUBCOMMANDS", "commands:")] {
            var lines = body(title)
            guard !lines.isEmpty else { continue }
            if title == "OPTIONS" {
                lines = lines.map { $0.replacingOccurrences(of: "Show help information.", with: "Show this help message and exit") }
            }
            if title == "SUBCOMMANDS" {
                lines = lines.filter { !$0.contains("See 'dstack help") }
            }
            if title != "OVERVIEW" { lines = realign(lines) }
            out.append("")
            if !heading.isEmpty { out.append(heading) }
            out.append(contentsOf: trimBlank(lines))
        }
        return out.joined(separator: "\n")
    }

    /// Lines up the help column again after `<MAX>` became `MAX`: a row is "  NAME  help",
    /// a more deeply indented line continues the help of the row above.
    static func realign(_ lines: [String]) -> [String] {
        var rows: [(name: String, help: [String])] = []
        for line in lines {
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if indent <= 2 || rows.isEmpty {
                if let gap = text.range(of: "  ") {
                    rows.append((String(text[..<gap.lowerBound]), [text[gap.upperBound...].trimmingCharacters(in: .whitespaces)]))
                } else {
                    rows.append((text, []))
                }
            } else {
                rows[rows.count - 1].help.append(text)
            }
        }
        let width = (rows.map(\.name.count).max() ?? 0) + 2
        return rows.map { row in
            let help = row.help.joined(separator: " ")
            return help.isEmpty ? "  " + row.name : "  " + row.name.padding(toLength: width, withPad: " ", startingAt: 0) + help
        }
    }

    /// A line such as "USAGE: ..." or "OPTIONS:" starts a section.
    private static func sectionTitle(_ line: String) -> String? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let title = line[..<colon]
        guard !title.isEmpty, title.allSatisfy({ $0.isUppercase || $0 == " " }),
              ["OVERVIEW", "USAGE", "ARGUMENTS", "OPTIONS", "SUBCOMMANDS"].contains(String(title)) else { return nil }
        return String(title)
    }

    /// `<MAX>` → `MAX`, `<instance-type>` stays readable as `INSTANCE-TYPE`.
    public static func unbracket(_ line: String) -> String {
        var result = ""
        var inside = false
        var name = ""
        for character in line {
            if character == "<" { inside = true; name = ""; continue }
            if character == ">" && inside { inside = false; result += name.uppercased(); continue }
            if inside { name.append(character) } else { result.append(character) }
        }
        if inside { result += "<" + name }
        return result
    }

    private static func trimBlank(_ lines: [String]) -> [String] {
        var lines = lines
        while lines.first?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeFirst() }
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        return lines
    }
}

import Foundation
