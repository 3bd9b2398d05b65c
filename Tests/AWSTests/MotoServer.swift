import DstackCore
import DstackTesting
import Foundation
import XCTest

/// moto's EC2 (and IAM) emulator on a free port of 127.0.0.1, for one test.
/// A missing `moto_server` is a failure, not a skip: `make test` installs it.
final class MotoServer {
    let port: Int
    let process: Process
    var url: String { "http://127.0.0.1:\(port)" }
    private let log: URL

    init(environment extra: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        guard let executable = MotoServer.findExecutable("moto_server") else {
            throw MotoServerError("moto_server is not on PATH; install it with `pip install 'moto[server]'` (make test does)")
        }
        port = try MotoServer.freePort()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port)-\(UUID().uuidString).log")
        process = Process()
        // The shell opens the log and execs moto (same pid, so terminate() reaches moto).
        // No FileHandle of ours is involved: a handle closed by both Process and its own
        // deinit could close a descriptor number another test has reused meanwhile.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$0\" -H 127.0.0.1 -p \"$1\" >\"$2\" 2>&1", executable, String(port), log.path]
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { _, new in new }
        process.environment = environment
        try process.run()
        try waitUntilAnswering()
    }

    /// Polls moto's own API until it answers, for up to 30 s.
    private func waitUntilAnswering() throws {
        let client = CurlHTTPClient(options: .init(connectTimeout: 1, totalTimeout: 2, proxy: ProxySettings()))
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning {
                throw MotoServerError("moto_server exited at start: \(logText)")
            }
            if let response = try? client.sendBlocking(HTTPRequest(url: "\(url)/moto-api/data.json")), response.status == 200 {
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw MotoServerError("moto_server did not answer on \(url) within 30 s: \(logText)")
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: log)
    }

    deinit { stop() }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A free port on 127.0.0.1 for moto.
    static func freePort() throws -> Int {
        try LocalPort.free()
    }
}

struct MotoServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a Python snippet (boto3 against the emulator) and returns its standard output.
func runPython(_ script: String, environment extra: [String: String] = [:]) throws -> String {
    guard let python = MotoServer.findExecutable("python3") else { throw MotoServerError("python3 is not on PATH") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script]
    var environment = ProcessInfo.processInfo.environment
    environment.merge(extra) { _, new in new }
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw MotoServerError("python3 failed (\(process.terminationStatus)): \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A provider pointed at an endpoint, with test credentials, no IMDS and fast retries.
func makeTestProvider(endpoint: String, accessKey: String = "AKIDTEST", secret: String = "test-secret",
                      installationID: String = "test-\(UUID().uuidString.prefix(8).lowercased())",
                      extraSettings: ProviderSettings = [:], transport: (any HTTPTransport)? = nil,
                      retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.05)) throws -> AWSProvider {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-home-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    var settings: ProviderSettings = ["access_key_id": accessKey, "secret_access_key": secret, "region": "us-east-1",
                                      "endpoint_url": endpoint]
    settings.merge(extraSettings) { _, new in new }
    let context = ProviderContext(installationID: installationID, home: home,
                                  environment: ["HOME": home.path, "AWS_EC2_METADATA_DISABLED": "true"])
    return try AWSProvider(settings: settings, context: context,
                           options: .init(transport: transport, retry: retry))
}

@testable import DstackAWS
