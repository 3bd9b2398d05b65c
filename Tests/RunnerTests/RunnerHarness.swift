import DstackCore
import DstackRunnerKit
import Foundation
import XCTest

/// A runner driven in-process against a fake server, its log captured.
final class InProcessRunner: @unchecked Sendable {
    let daemon: RunnerDaemon
    let stateDirectory: String

    init(server: String, instanceID: String? = "i-0123456789abcdef0", orphanAction: OrphanAction = .exit,
         orphanTimeout: TimeInterval = 60, metadataURL: String? = nil, heartbeat: TimeInterval = 0.3,
         watchesMetadata: Bool = false, noticeInterval: TimeInterval = 5) {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("runner-test-\(UUID().uuidString)").path
        var options = RunnerOptions(instanceID: instanceID, stateDirectory: stateDirectory)
        options.serverURL = server
        options.registrationToken = FakeRunnerServer.registrationToken
        options.orphanAction = orphanAction
        options.orphanTimeout = orphanTimeout
        options.pollWait = 1
        options.heartbeatInterval = heartbeat
        if let metadataURL { options.metadataURL = metadataURL }
        options.metadataURLGiven = watchesMetadata
        options.noticeInterval = noticeInterval
        let box = LineBox()
        let log = RunnerLog(sink: { line in box.append(line) })
        daemon = RunnerDaemon(options: options, log: log, powerOffCommands: [["/bin/true"]]) { code in box.exit(code) }
        self.box = box
        daemon.start()
    }

    private let box: LineBox
    var output: String { box.text }
    var exitCode: Int32? { box.code }

    func stop() {
        daemon.lifetime.stop()
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }
}

final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var exitCode: Int32?
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    func exit(_ code: Int32) { lock.withLock { exitCode = code } }
    var text: String { lock.withLock { lines.joined() } }
    var code: Int32? { lock.withLock { exitCode } }
}
