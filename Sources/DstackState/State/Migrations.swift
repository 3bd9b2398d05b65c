/// The versioned schema of state.db. Each entry moves the schema from version
/// `index` to `index + 1`; `PRAGMA user_version` (SQLite) or the `dstack_schema` table
/// (Postgres) records how far a database has come. Append new migrations; never edit one
/// that has shipped. Each runs on both backends: write it in the common subset
/// (TEXT, INTEGER, REAL; no SQLite-only syntax), or add Postgres's own text to
/// `postgresOverrides`.
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
        // 2: runs and their logs; the fleet's runner registration and work; the launch
        // batch's registration token (only its hash).
        """
        CREATE TABLE runs (
            id           TEXT PRIMARY KEY,
            workflow     TEXT,
            commands     TEXT NOT NULL,
            requirements TEXT NOT NULL,
            status       TEXT NOT NULL,
            reason       TEXT,
            instance_id  TEXT,
            attempt      INTEGER NOT NULL DEFAULT 0,
            interruptions INTEGER NOT NULL DEFAULT 0,
            exit_code    INTEGER,
            stop_requested INTEGER NOT NULL DEFAULT 0,
            submitted_at REAL NOT NULL,
            updated_at   REAL NOT NULL,
            finished_at  REAL
        );
        CREATE INDEX runs_by_status ON runs(status, submitted_at);
        CREATE TABLE run_logs (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            stream  TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
            text    TEXT NOT NULL,
            at      REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        ALTER TABLE launches ADD COLUMN registration_hash TEXT;
        ALTER TABLE launches ADD COLUMN registered INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE launches ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE instances ADD COLUMN phase TEXT NOT NULL DEFAULT 'provisioning';
        ALTER TABLE instances ADD COLUMN run_id TEXT;
        ALTER TABLE instances ADD COLUMN token_hash TEXT;
        ALTER TABLE instances ADD COLUMN registered_at REAL;
        ALTER TABLE instances ADD COLUMN idle_since REAL;
        ALTER TABLE instances ADD COLUMN heartbeat_at REAL;
        """,
        // 3: which runs each launch batch was made for, the server URL its instances were
        // given, and whether it failed them (closed before their runners registered), so a
        // run whose launches keep failing ends; each waiting run's provisioning stage.
        """
        CREATE TABLE launch_runs (
            token  TEXT NOT NULL REFERENCES launches(token),
            run_id TEXT NOT NULL,
            failed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (token, run_id)
        );
        CREATE INDEX launch_runs_by_run ON launch_runs(run_id);
        ALTER TABLE launches ADD COLUMN server_url TEXT;
        ALTER TABLE runs ADD COLUMN stage TEXT;
        """,
        // 4: what a run carries: its environment (a JSON object) and the code archive
        // shipped with it (the SHA-256 that names it in DSTACK_HOME/code, and its size).
        """
        ALTER TABLE runs ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE runs ADD COLUMN code_sha256 TEXT;
        ALTER TABLE runs ADD COLUMN code_size INTEGER;
        """,
        // 5: the root disk a launch batch asked for (GB; NULL: the image's default), so
        // that a run needing a disk is placed only on an instance that has it, and a
        // launch resent after a crash asks for the same disk.
        """
        ALTER TABLE launches ADD COLUMN disk_gb INTEGER;
        """,
        // 6: the API's users (only the SHA-256 of each token is kept), and who submitted
        // each run, so a user sees and stops only their own.
        """
        CREATE TABLE users (
            name       TEXT PRIMARY KEY,
            role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
            token_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        ALTER TABLE runs ADD COLUMN submitted_by TEXT;
        CREATE INDEX runs_by_user ON runs(submitted_by);
        """,
        // 7: every runner API call finds its instance by the token's hash; without an
        // index that is a scan of the fleet per call (1,000 runners: 1,000 rows each time).
        """
        CREATE INDEX instances_by_token_hash ON instances(token_hash);
        """,
        // 8: manual launches (`dstack instances request`) as requests the reconcile pass
        // carries out within the max, like the launches it makes for runs.
        """
        CREATE TABLE instance_requests (
            id            TEXT PRIMARY KEY,
            instance_type TEXT NOT NULL,
            count         INTEGER NOT NULL CHECK (count > 0),
            status        TEXT NOT NULL CHECK (status IN ('pending', 'launched', 'refused')),
            reason        TEXT,
            launch_token  TEXT,
            created_at    REAL NOT NULL
        );
        """,
        // 9: artifacts. What each run uploads and the runs it starts from (resolved at
        // submission); the manifest, written last, with its completeness and reason and
        // where the files are (`server` or a bucket); the multipart uploads open in a
        // bucket, so a server restarted mid-upload can still complete or abort them.
        """
        CREATE TABLE run_artifacts (
            run_id   TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            paths    TEXT NOT NULL DEFAULT '[]',
            deps     TEXT NOT NULL DEFAULT '[]',
            attempt  INTEGER,
            state    TEXT CHECK (state IN ('uploading', 'complete', 'incomplete')),
            reason   TEXT,
            location TEXT
        );
        CREATE TABLE artifact_files (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            path   TEXT NOT NULL,
            size   INTEGER NOT NULL CHECK (size >= 0),
            sha256 TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        );
        CREATE TABLE artifact_uploads (
            run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            path       TEXT NOT NULL,
            attempt    INTEGER NOT NULL,
            upload_id  TEXT NOT NULL,
            size       INTEGER NOT NULL,
            sha256     TEXT NOT NULL,
            location   TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, path)
        );
        """,
        // 10: the fleet's timeline (launches, fulfilments, interruptions, terminations,
        // sweeps, cloud failures), which the web page shows; the newest are read first.
        """
        CREATE TABLE events (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            at       REAL NOT NULL,
            kind     TEXT NOT NULL,
            subject  TEXT NOT NULL DEFAULT '',
            detail   TEXT NOT NULL DEFAULT ''
        );
        """,
        // 11: the spot lifecycle. Each instance's availability zone and, once the cloud
        // takes it back, the signal that said so (first one wins), when, and when the
        // cloud terminates it; a rebalance policy per rule and the drain it put on an
        // instance; each run's retry policy and the signal of its last interruption; the
        // pools (type and zone) cooled after an interruption or an unfulfilled request;
        // the zone a launch was placed in.
        """
        ALTER TABLE instances ADD COLUMN zone TEXT;
        ALTER TABLE instances ADD COLUMN interruption TEXT;
        ALTER TABLE instances ADD COLUMN interrupted_at REAL;
        ALTER TABLE instances ADD COLUMN terminate_at REAL;
        ALTER TABLE instances ADD COLUMN draining TEXT;
        ALTER TABLE rules ADD COLUMN on_rebalance TEXT NOT NULL DEFAULT 'ignore';
        ALTER TABLE runs ADD COLUMN retry_policy TEXT;
        ALTER TABLE runs ADD COLUMN interrupted_by TEXT;
        ALTER TABLE runs ADD COLUMN error_retries INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE launches ADD COLUMN zone TEXT;
        CREATE TABLE offering_cooldowns (
            instance_type TEXT NOT NULL,
            zone          TEXT NOT NULL DEFAULT '',
            until         REAL NOT NULL,
            reason        TEXT NOT NULL,
            hard          INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (instance_type, zone)
        );
        """,
        // 12: the runs each timeline event concerns, and its detail without their IDs,
        // so a user who is not an admin sees the fleet but not other users' runs.
        """
        ALTER TABLE events ADD COLUMN runs TEXT NOT NULL DEFAULT '';
        ALTER TABLE events ADD COLUMN shared_detail TEXT;
        """,
        // 13: the cost model's inputs, kept after the instances and runs they describe are
        // gone: the spot price history seen per type and zone (micro-dollars an hour, from
        // the cloud's own timestamps); each instance's life (launch or fulfilment to
        // termination) with its zone; each span of an instance given to a run.
        """
        CREATE TABLE spot_prices (
            instance_type TEXT NOT NULL,
            zone          TEXT NOT NULL,
            at            REAL NOT NULL,
            micros_per_hour INTEGER NOT NULL CHECK (micros_per_hour >= 0),
            PRIMARY KEY (instance_type, zone, at)
        );
        CREATE TABLE instance_lives (
            id            TEXT PRIMARY KEY,
            vendor        TEXT NOT NULL,
            instance_type TEXT NOT NULL,
            zone          TEXT,
            started_at    REAL NOT NULL,
            ended_at      REAL
        );
        CREATE INDEX instance_lives_by_end ON instance_lives(ended_at);
        CREATE TABLE run_usage (
            run_id      TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            started_at  REAL NOT NULL,
            ended_at    REAL,
            PRIMARY KEY (run_id, instance_id, started_at)
        );
        CREATE INDEX run_usage_by_instance ON run_usage(instance_id, ended_at);
        """,
        // 14: what the spot lifecycle kept in memory only, so a restart keeps it: the
        // spot requests dstack cancelled unfulfilled (an instance the cloud fulfils one
        // with afterwards is terminated at once, not swept after the grace period), and
        // why a waiting run's last spot request was given up, shown while its next
        // launch comes up. And terminations journaled before the cloud is called, until
        // it has taken them: one the cloud failed is sent again the next pass.
        """
        ALTER TABLE runs ADD COLUMN wait_note TEXT;
        CREATE INDEX runs_with_wait_note ON runs(id) WHERE wait_note IS NOT NULL;
        CREATE TABLE cancelled_spot_requests (
            vendor       TEXT NOT NULL,
            request_id   TEXT NOT NULL,
            cancelled_at REAL NOT NULL,
            PRIMARY KEY (vendor, request_id)
        );
        CREATE TABLE pending_terminations (
            vendor      TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            kind        TEXT NOT NULL,
            at          REAL NOT NULL,
            PRIMARY KEY (vendor, resource_id)
        );
        """,
        // 15: `dstack ps` pages runs newest first, all of them or one user's; these
        // indexes give that order without sorting the whole table.
        """
        CREATE INDEX runs_by_submission ON runs(submitted_at, id);
        CREATE INDEX runs_by_user_submission ON runs(submitted_by, submitted_at, id);
        """,
    ]

    static var latestVersion: Int { all.count }

    /// Postgres's text of a migration whose common text does not translate (by its
    /// version, as numbered above); most need none: `SQLDialect.postgresDDL` turns the
    /// common text's INTEGER and REAL into BIGINT and DOUBLE PRECISION.
    static let postgresOverrides: [Int: String] = [
        // SQLite's AUTOINCREMENT key is Postgres's identity column.
        10: """
        CREATE TABLE events (
            id       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at       DOUBLE PRECISION NOT NULL,
            kind     TEXT NOT NULL,
            subject  TEXT NOT NULL DEFAULT '',
            detail   TEXT NOT NULL DEFAULT ''
        );
        """,
    ]

    /// The migration from `step` to `step + 1`, in `dialect`.
    static func text(_ step: Int, for dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite: return all[step]
        case .postgres: return postgresOverrides[step + 1] ?? SQLDialect.postgresDDL(all[step])
        }
    }
}
