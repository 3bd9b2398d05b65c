import DstackCore
import Foundation

// dstack-state-stress DB_PATH|postgresql://... ITERATIONS
// Increments the max of the rule "counter" ITERATIONS times, each a read-modify-write
// in one state transaction. Many of these at once must never lose an increment (on
// SQLite, BEGIN IMMEDIATE; on Postgres, every write's advisory lock).
let arguments = CommandLine.arguments
guard arguments.count == 3, let iterations = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: dstack-state-stress DB_PATH|POSTGRES_URL ITERATIONS\n".utf8))
    exit(2)
}
do {
    let state = DatabaseURL.isPostgres(arguments[1])
        ? try StateStore(databaseURL: try DatabaseURL(parsing: arguments[1]), poolSize: 2)
        : try StateStore(path: arguments[1])
    for _ in 0..<iterations {
        try state.write { tx in
            let current = try tx.rule(for: "counter")?.max ?? 0
            try tx.setRule("counter", max: current + 1)
        }
    }
} catch {
    FileHandle.standardError.write(Data("dstack-state-stress: \(error)\n".utf8))
    exit(1)
}
