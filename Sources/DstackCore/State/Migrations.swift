/// The versioned schema of state.db. Each entry moves the schema from version
/// `index` to `index + 1`; `PRAGMA user_version` records how far a file has come.
/// Append new migrations; never edit one that has shipped.
enum Migrations {
    static let all: [String] = [
        // 1: rules, the enabled flag and the installation's identity; instances and the
        // launch journal, which the autoscaler fills.
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE rules (
            instance_type TEXT PRIMARY KEY,
            max_instances INTEGER NOT NULL CHECK (max_instances > 0),
            updated_at    REAL NOT NULL
        );
        CREATE TABLE launches (
            token          TEXT PRIMARY KEY,
            vendor         TEXT NOT NULL,
            instance_type  TEXT NOT NULL,
            count          INTEGER NOT NULL CHECK (count > 0),
            status         TEXT NOT NULL CHECK (status IN ('intent', 'sent', 'failed')),
            spot_requests  TEXT NOT NULL DEFAULT '',
            error          TEXT,
            created_at     REAL NOT NULL
        );
        CREATE TABLE instances (
            id              TEXT PRIMARY KEY,
            vendor          TEXT NOT NULL,
            instance_type   TEXT NOT NULL,
            spot_request_id TEXT,
            launch_token    TEXT REFERENCES launches(token),
            recorded_at     REAL NOT NULL
        );
        CREATE INDEX instances_by_type ON instances(instance_type);
        """,
    ]

    static var latestVersion: Int { all.count }
}
