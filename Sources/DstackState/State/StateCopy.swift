import Foundation

/// Copies one state into another, every table row for row (`dstack server
/// migrate-state`): rules, users, the launch journal, instances, runs, their logs, and
/// whatever later migrations add. The target must be empty (a fresh schema); both are at
/// this dstack's schema version, since opening a state migrates it. One write on the
/// target: a failure leaves it empty. Verified by counting each table on both sides.
public enum StateCopy {
    /// Tables in an order that satisfies their references; tables a later migration
    /// adds follow, alphabetically.
    static let knownOrder = ["meta", "rules", "users", "launches", "instances", "launch_runs", "runs", "run_logs", "instance_requests"]

    /// Copies `source` into `target`; returns the rows copied per table.
    @discardableResult
    public static func copy(from source: StateStore, to target: StateStore) throws -> [String: Int] {
        let tables = try source.read { tx in try Self.tables(tx.db) }
        let copied = try target.write { to in
            let targetTables = Set(try Self.tables(to.db))
            for table in tables where table != "meta" {
                guard targetTables.contains(table) else { throw StateCopyError.missingTable(table, target: target.path) }
                if try count(table, to.db) > 0 { throw StateCopyError.notEmpty(target.path, table: table) }
            }
            try to.db.query("DELETE FROM meta")
            return try source.read { from in
                var copied: [String: Int] = [:]
                for table in tables {
                    let columns = try Self.columns(table, from.db)
                    let list = columns.joined(separator: ", ")
                    let insert = "INSERT INTO \(table)(\(list)) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
                    let rows = try from.db.query("SELECT \(list) FROM \(table)")
                    for row in rows { try to.db.query(insert, row) }
                    copied[table] = rows.count
                }
                return copied
            }
        }
        // Verified by counts, each side read afresh.
        for table in tables {
            let there = try target.read { try count(table, $0.db) }
            if there != copied[table] { throw StateCopyError.countsDiffer(table, copied: copied[table] ?? 0, found: there) }
        }
        return copied
    }

    static func tables(_ db: any StateConnection) throws -> [String] {
        let names: [String]
        switch db.dialect {
        case .sqlite:
            names = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'").compactMap { $0.first?.text }
        case .postgres:
            names = try db.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'dstack_schema'")
                .compactMap { $0.first?.text }
        }
        let known = knownOrder.filter(names.contains)
        return known + names.filter { !knownOrder.contains($0) }.sorted()
    }

    static func columns(_ table: String, _ db: any StateConnection) throws -> [String] {
        switch db.dialect {
        case .sqlite:
            return try db.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)]).compactMap { $0.first?.text }
        case .postgres:
            return try db.query("""
                SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
                ORDER BY ordinal_position
                """, [.text(table)]).compactMap { $0.first?.text }
        }
    }

    static func count(_ table: String, _ db: any StateConnection) throws -> Int {
        Int(try db.query("SELECT COUNT(*) FROM \(table)").first?.first?.integer ?? 0)
    }
}

public enum StateCopyError: Error, Equatable, CustomStringConvertible {
    case notEmpty(String, table: String)
    case missingTable(String, target: String)
    case countsDiffer(String, copied: Int, found: Int)

    public var description: String {
        switch self {
        case .notEmpty(let target, let table):
            return "the target database \(target) is not empty (its \(table) table has rows); migrate-state copies only into an empty one"
        case .missingTable(let table, let target):
            return "the target database \(target) has no \(table) table; it was made by a different dstack"
        case .countsDiffer(let table, let copied, let found):
            return "the copy did not verify: \(copied) rows of \(table) were copied but \(found) are there"
        }
    }
}
