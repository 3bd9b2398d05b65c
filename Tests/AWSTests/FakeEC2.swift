@testable import DstackAWS
import DstackCore
import DstackTesting
import Foundation
import XCTest

/// A scripted EC2 on a local HTTP server, for the faults and gaps moto cannot produce.
/// Each action answers from a queue of replies (the last one repeats).
final class FakeEC2: @unchecked Sendable {
    let script = Script()
    let server: LocalHTTPServer
    /// Delays the provider asked the retry policy to sleep, in order.
    let sleeps = Recorder<TimeInterval>()

    init() throws {
        let script = self.script
        server = try LocalHTTPServer { request in script.answer(request) }
    }

    func on(_ action: String, _ replies: LocalHTTPServer.Response...) {
        script.set(action, replies)
    }

    func stop() { server.stop() }

    /// The requests for one action, as decoded form parameters.
    func calls(_ action: String) -> [[String: String]] {
        server.requests.map { Self.parameters($0.bodyText) }.filter { $0["Action"] == action }
    }
}

final class Script: @unchecked Sendable {
    private let lock = NSLock()
    private var scripts: [String: [LocalHTTPServer.Response]] = [:]

    func set(_ action: String, _ replies: [LocalHTTPServer.Response]) {
        lock.withLock { scripts[action] = replies }
    }

    func answer(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Response {
        let action = FakeEC2.parameters(request.bodyText)["Action"] ?? ""
        return lock.withLock {
            guard var queue = scripts[action], !queue.isEmpty else {
                return FakeEC2.error(400, "InvalidAction", "FakeEC2 has no script for \(action)")
            }
            let reply = queue.count > 1 ? queue.removeFirst() : queue[0]
            scripts[action] = queue
            return reply
        }
    }
}

extension FakeEC2 {

    static func parameters(_ body: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            out[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return out
    }

    static func ok(_ action: String, _ inner: String) -> LocalHTTPServer.Response {
        .init(status: 200, headers: [("Content-Type", "text/xml")],
              body: #"<?xml version="1.0" encoding="UTF-8"?><\#(action)Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>\#(inner)</\#(action)Response>"#)
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> LocalHTTPServer.Response {
        .init(status: status, headers: [("Content-Type", "text/xml")],
              body: #"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>\#(code)</Code><Message>\#(message)</Message></Error></Errors><RequestID>r-2</RequestID></Response>"#)
    }

    static let regions = ok("DescribeRegions", "<regionInfo><item><regionName>us-east-1</regionName></item></regionInfo>")

    func provider(maxAttempts: Int = 4, transport: (any HTTPTransport)? = nil) throws -> AWSProvider {
        let sleeps = self.sleeps
        return try makeTestProvider(endpoint: server.url, installationID: "fake", transport: transport,
                                    retry: RetryPolicy(maxAttempts: maxAttempts, baseDelay: 0.1, maxDelay: 0.4,
                                                       sleep: { sleeps.append($0) }, random: { 1.0 }))
    }
}

extension XCTestCase {
    /// A FakeEC2 kept alive until the test ends, then stopped.
    func makeFakeEC2() throws -> FakeEC2 {
        let ec2 = try FakeEC2()
        addTeardownBlock { ec2.stop() }
        return ec2
    }
}

final class Recorder<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) { lock.withLock { items.append(item) } }
    var all: [T] { lock.withLock { items } }
}
