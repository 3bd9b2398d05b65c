import Foundation

/// The HTTP API between the dstack server and the runners, shared by both sides so
/// the shapes cannot drift. JSON bodies (jansson), one route per job:
///
/// | route | auth | body → reply |
/// |---|---|---|
/// | `GET  /api/runners/binary/{architecture}` | the batch's registration token as bearer | the runner binary (the bootstrap checks its SHA-256) |
/// | `POST /api/runners/register` | registration token in the body | `RegisterRequest` → `RegisterReply` |
/// | `GET  /api/runners/{id}/assignment?wait=SECONDS` | per-instance bearer token | 200 `Assignment`, or 204 after `wait` with nothing to do |
/// | `GET  /api/runners/{id}/runs/{run}/code` | bearer, and the run is assigned to `{id}` now | 200 the run's code archive (gzipped tar; its SHA-256 is in the `Assignment`) |
/// | `POST /api/runners/{id}/runs/{run}/logs` | bearer | `LogChunk` → `RunControl` |
/// | `POST /api/runners/{id}/runs/{run}/exit` | bearer | `RunExit` → 204 |
/// | `POST /api/runners/{id}/heartbeat` | bearer | `Heartbeat` → `RunControl` |
/// | artifacts (`RunnerAPI+Artifacts.swift`) | bearer | uploads, deps, manifest |
/// | `POST /api/runners/{id}/notice` | bearer | `SpotNotice` → 204 (the instance's metadata announced an interruption or a rebalance) |
/// | `POST /api/wake` | none (it only makes the reconcile loop run sooner) | → 204 |
///
/// Errors: 400 malformed body, 401 missing or wrong token, 403 a valid token acting for
/// another instance, 404 unknown run, 409 a registered instance registering with another launch's
/// token (registering again with its own launch's token is idempotent: a fresh token). Each error
/// body is `{"error": "one sentence"}`.
public enum RunnerAPI {
    public static let registerPath = "/api/runners/register"
    public static let wakePath = "/api/wake"

    public static func runnerBinaryPath(architecture: String) -> String { "/api/runners/binary/\(architecture)" }
    public static func assignmentPath(instance: String) -> String { "/api/runners/\(instance)/assignment" }
    public static func codePath(instance: String, run: String) -> String { "/api/runners/\(instance)/runs/\(run)/code" }
    public static func logsPath(instance: String, run: String) -> String { "/api/runners/\(instance)/runs/\(run)/logs" }
    public static func exitPath(instance: String, run: String) -> String { "/api/runners/\(instance)/runs/\(run)/exit" }
    public static func heartbeatPath(instance: String) -> String { "/api/runners/\(instance)/heartbeat" }
    public static func noticePath(instance: String) -> String { "/api/runners/\(instance)/notice" }

    /// The header every call after registration carries: `Authorization: Bearer TOKEN`.
    public static func authorization(_ token: String) -> HTTPHeader { HTTPHeader("Authorization", "Bearer \(token)") }

    public struct RegisterRequest: RunnerAPIPayload {
        public var instanceID: String
        public var registrationToken: String

        public init(instanceID: String, registrationToken: String) {
            self.instanceID = instanceID
            self.registrationToken = registrationToken
        }
    }

    public struct RegisterReply: RunnerAPIPayload {
        /// The per-instance token for every later call.
        public var token: String
        public var instanceID: String

        public init(token: String, instanceID: String) {
            self.token = token
            self.instanceID = instanceID
        }
    }

    /// A run for the runner to execute: each command in order with `/bin/sh -c`, in a
    /// fresh working directory (the run's code unpacked into it first, when it has
    /// some), with `env` in each command's environment, stopping at the first that fails.
    /// `env` and `code` are optional in the JSON: a server from before them sends neither.
    public struct Assignment: RunnerAPIPayload {
        public var runID: String
        public var attempt: Int
        public var commands: [String]
        public var env: [String: String]
        public var code: Code?
        /// Paths (relative, checked with `ArtifactPath`) the runner uploads after the
        /// commands end; empty for a run with none (and from a server from before artifacts).
        public var artifacts: [String]
        /// Runs whose artifacts go into the working directory before the first command
        /// (their files and where to fetch them: `depsPath`).
        public var deps: [String]

        /// The run's code archive, fetched from `codePath`: a gzipped tar whose SHA-256
        /// (lowercase hex) the runner checks before unpacking it.
        public struct Code: Codable, Equatable, Sendable {
            public var sha256: String
            public var size: Int

            public init(sha256: String, size: Int) {
                self.sha256 = sha256
                self.size = size
            }
        }

        public init(runID: String, attempt: Int, commands: [String], env: [String: String] = [:], code: Code? = nil,
                    artifacts: [String] = [], deps: [String] = []) {
            self.runID = runID
            self.attempt = attempt
            self.commands = commands
            self.env = env
            self.code = code
            self.artifacts = artifacts
            self.deps = deps
        }

        private enum CodingKeys: String, CodingKey { case runID, attempt, commands, env, code, artifacts, deps }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            runID = try container.decode(String.self, forKey: .runID)
            attempt = try container.decode(Int.self, forKey: .attempt)
            commands = try container.decode([String].self, forKey: .commands)
            env = try container.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
            code = try container.decodeIfPresent(Code.self, forKey: .code)
            artifacts = try container.decodeIfPresent([String].self, forKey: .artifacts) ?? []
            deps = try container.decodeIfPresent([String].self, forKey: .deps) ?? []
        }

        /// A run with no artifacts and no deps goes out exactly as before they existed.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(runID, forKey: .runID)
            try container.encode(attempt, forKey: .attempt)
            try container.encode(commands, forKey: .commands)
            try container.encode(env, forKey: .env)
            try container.encodeIfPresent(code, forKey: .code)
            if !artifacts.isEmpty { try container.encode(artifacts, forKey: .artifacts) }
            if !deps.isEmpty { try container.encode(deps, forKey: .deps) }
        }
    }

    public struct LogChunk: RunnerAPIPayload {
        public enum Stream: String, Codable, CaseIterable, Sendable { case stdout, stderr }
        public var attempt: Int
        public var stream: Stream
        public var text: String

        public init(attempt: Int, stream: Stream, text: String) {
            self.attempt = attempt
            self.stream = stream
            self.text = text
        }
    }

    public struct RunExit: RunnerAPIPayload {
        public var attempt: Int
        public var exitCode: Int

        public init(attempt: Int, exitCode: Int) {
            self.attempt = attempt
            self.exitCode = exitCode
        }
    }

    /// `run_id` and `attempt` are always sent, `null` when the runner is idle.
    public struct Heartbeat: RunnerAPIPayload {
        /// The run the runner is executing, if any.
        public var runID: String?
        public var attempt: Int?

        public init(runID: String? = nil, attempt: Int? = nil) {
            self.runID = runID
            self.attempt = attempt
        }

        private enum CodingKeys: String, CodingKey { case runID, attempt }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(runID, forKey: .runID)
            try container.encode(attempt, forKey: .attempt)
        }
    }

    /// The server's answer to logs and heartbeats: whether the current run should stop
    /// (the user ran `dstack stop`, or the run was taken away from this instance).
    public struct RunControl: RunnerAPIPayload {
        public var stop: Bool

        public init(stop: Bool) { self.stop = stop }
    }

    /// What the instance's metadata service announced: an `interruption`
    /// (`spot/instance-action`: `action` is terminate, stop or hibernate, `time` when, as
    /// the service wrote it) or a `rebalance` recommendation (`time` when it was made).
    public struct SpotNotice: RunnerAPIPayload {
        public enum Kind: String, Codable, CaseIterable, Sendable { case interruption, rebalance }
        public var kind: Kind
        public var action: String?
        public var time: String?

        public init(kind: Kind, action: String? = nil, time: String? = nil) {
            self.kind = kind
            self.action = action
            self.time = time
        }

        private enum CodingKeys: String, CodingKey { case kind, action, time }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            kind = try container.decode(Kind.self, forKey: .kind)
            action = try container.decodeIfPresent(String.self, forKey: .action)
            time = try container.decodeIfPresent(String.self, forKey: .time)
        }
    }

    public static func errorBody(_ message: String) -> JSONValue { ["error": .string(message)] }
}

/// A body of the runner API: Codable through `JSONValueEncoder`/`JSONValueDecoder` with
/// snake_case keys (`instance_id`), strictly: a missing or mistyped field is an error
/// naming it, never a default.
public protocol RunnerAPIPayload: Codable, Equatable, Sendable {}

extension RunnerAPIPayload {
    /// The body as sent. These payloads hold only strings, whole numbers and booleans,
    /// which always encode.
    public var json: JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch {
            preconditionFailure("a runner API payload failed to encode: \(error)")
        }
    }

    /// Reads a body; throws `JSONDecodingError` (one sentence naming the key) when it has
    /// another shape.
    public init(json: JSONValue) throws {
        self = try JSONValueDecoder().decode(Self.self, from: json)
    }
}

/// A body that is not the shape a route expects (kept for callers that check shapes by hand).
public struct APIShapeError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
