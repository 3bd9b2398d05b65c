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

    /// The header every call after registration carries: `Authorization: Bearer TOKEN`.
    public static func authorization(_ token: String) -> HTTPHeader { HTTPHeader("Authorization", "Bearer \(token)") }

    public struct RegisterRequest: Equatable, Sendable {
        public var instanceID: String
        public var registrationToken: String

        public init(instanceID: String, registrationToken: String) {
            self.instanceID = instanceID
            self.registrationToken = registrationToken
        }

        public var json: JSONValue { ["instance_id": .string(instanceID), "registration_token": .string(registrationToken)] }

        public init(json: JSONValue) throws {
            instanceID = try json.requiredString("instance_id")
            registrationToken = try json.requiredString("registration_token")
        }
    }

    public struct RegisterReply: Equatable, Sendable {
        /// The per-instance token for every later call.
        public var token: String
        public var instanceID: String

        public init(token: String, instanceID: String) {
            self.token = token
            self.instanceID = instanceID
        }

        public var json: JSONValue { ["token": .string(token), "instance_id": .string(instanceID)] }

        public init(json: JSONValue) throws {
            token = try json.requiredString("token")
            instanceID = try json.requiredString("instance_id")
        }
    }

    /// A run for the runner to execute: each command in order with `/bin/sh -c`, in a
    /// fresh working directory (the run's code unpacked into it first, when it has
    /// some), with `env` in each command's environment, stopping at the first that fails.
    /// `env` and `code` are optional in the JSON: a server from before them sends neither.
    public struct Assignment: Equatable, Sendable {
        public var runID: String
        public var attempt: Int
        public var commands: [String]
        public var env: [String: String]
        public var code: Code?

        /// The run's code archive, fetched from `codePath`: a gzipped tar whose SHA-256
        /// (lowercase hex) the runner checks before unpacking it.
        public struct Code: Equatable, Sendable {
            public var sha256: String
            public var size: Int

            public init(sha256: String, size: Int) {
                self.sha256 = sha256
                self.size = size
            }
        }

        public init(runID: String, attempt: Int, commands: [String], env: [String: String] = [:], code: Code? = nil) {
            self.runID = runID
            self.attempt = attempt
            self.commands = commands
            self.env = env
            self.code = code
        }

        public var json: JSONValue {
            var object: JSONObject = ["run_id": .string(runID), "attempt": .int(Int64(attempt)),
                                      "commands": .array(commands.map(JSONValue.string))]
            var environment = JSONObject()
            for (key, value) in env.sorted(by: { $0.key < $1.key }) { environment[key] = .string(value) }
            object["env"] = .object(environment)
            if let code { object["code"] = ["sha256": .string(code.sha256), "size": .int(Int64(code.size))] }
            return .object(object)
        }

        public init(json: JSONValue) throws {
            runID = try json.requiredString("run_id")
            attempt = Int(try json.requiredInt("attempt"))
            guard let list = json["commands"]?.arrayValue else { throw APIShapeError("\"commands\" must be an array of strings") }
            commands = try list.map { item in
                guard let text = item.stringValue else { throw APIShapeError("\"commands\" must be an array of strings") }
                return text
            }
            env = [:]
            if let value = json["env"], value != .null {
                guard let object = value.objectValue else { throw APIShapeError("\"env\" must be an object of strings") }
                for (key, item) in object.entries {
                    guard let text = item.stringValue else { throw APIShapeError("\"env\" must be an object of strings") }
                    env[key] = text
                }
            }
            if let value = json["code"], value != .null {
                code = Code(sha256: try value.requiredString("sha256"), size: Int(try value.requiredInt("size")))
            } else {
                code = nil
            }
        }
    }

    public struct LogChunk: Equatable, Sendable {
        public enum Stream: String, Sendable { case stdout, stderr }
        public var attempt: Int
        public var stream: Stream
        public var text: String

        public init(attempt: Int, stream: Stream, text: String) {
            self.attempt = attempt
            self.stream = stream
            self.text = text
        }

        public var json: JSONValue { ["attempt": .int(Int64(attempt)), "stream": .string(stream.rawValue), "text": .string(text)] }

        public init(json: JSONValue) throws {
            attempt = Int(try json.requiredInt("attempt"))
            guard let stream = Stream(rawValue: try json.requiredString("stream")) else {
                throw APIShapeError("\"stream\" must be \"stdout\" or \"stderr\"")
            }
            self.stream = stream
            text = try json.requiredString("text")
        }
    }

    public struct RunExit: Equatable, Sendable {
        public var attempt: Int
        public var exitCode: Int

        public init(attempt: Int, exitCode: Int) {
            self.attempt = attempt
            self.exitCode = exitCode
        }

        public var json: JSONValue { ["attempt": .int(Int64(attempt)), "exit_code": .int(Int64(exitCode))] }

        public init(json: JSONValue) throws {
            attempt = Int(try json.requiredInt("attempt"))
            exitCode = Int(try json.requiredInt("exit_code"))
        }
    }

    public struct Heartbeat: Equatable, Sendable {
        /// The run the runner is executing, if any.
        public var runID: String?
        public var attempt: Int?

        public init(runID: String? = nil, attempt: Int? = nil) {
            self.runID = runID
            self.attempt = attempt
        }

        public var json: JSONValue {
            ["run_id": runID.map(JSONValue.string) ?? .null, "attempt": attempt.map { .int(Int64($0)) } ?? .null]
        }

        public init(json: JSONValue) throws {
            runID = json["run_id"]?.stringValue
            attempt = json["attempt"]?.intValue.map(Int.init)
        }
    }

    /// The server's answer to logs and heartbeats: whether the current run should stop
    /// (the user ran `dstack stop`, or the run was taken away from this instance).
    public struct RunControl: Equatable, Sendable {
        public var stop: Bool

        public init(stop: Bool) { self.stop = stop }

        public var json: JSONValue { ["stop": .bool(stop)] }

        public init(json: JSONValue) throws {
            stop = json["stop"]?.boolValue ?? false
        }
    }

    public static func errorBody(_ message: String) -> JSONValue { ["error": .string(message)] }
}

public struct APIShapeError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension JSONValue {
    func requiredString(_ key: String) throws -> String {
        guard let value = self[key]?.stringValue else { throw APIShapeError("\"\(key)\" must be a string") }
        return value
    }

    func requiredInt(_ key: String) throws -> Int64 {
        guard let value = self[key]?.intValue else { throw APIShapeError("\"\(key)\" must be a whole number") }
        return value
    }
}
