import DstackCore
import Foundation
import XCTest

final class RunnerBootstrapTests: XCTestCase {
    private let sha = String(repeating: "ab", count: 32)

    func testAServedRunnerIsFetchedWithTheRegistrationTokenCheckedBySHA256AndStarted() {
        let script = RunnerBootstrap(runnerSource: .server(architecture: "x86_64", sha256: sha), serverURL: "https://10.0.0.1:3000",
                                     registrationToken: "tok", serverPin: "sha256//PIN=").render()
        XCTAssertTrue(script.contains("'https://10.0.0.1:3000/api/runners/binary/x86_64'"), script)
        XCTAssertTrue(script.contains("printf '%s  %s\\n' '\(sha)' \"$RUNNER.part\" | sha256sum -c -"), script)
        XCTAssertTrue(script.contains("-k --pinnedpubkey 'sha256//PIN='"), script)
        XCTAssertTrue(script.contains("--server 'https://10.0.0.1:3000' --server-pin 'sha256//PIN='"), script)
        // Fetching happens before the runner starts, and the runner replaces itself only whole.
        let fetch = try! XCTUnwrap(script.range(of: "retry fetch_runner"))
        let start = try! XCTUnwrap(script.range(of: "exec \"$RUNNER\""))
        XCTAssertLessThan(fetch.lowerBound, start.lowerBound)
        XCTAssertTrue(script.contains("mv \"$RUNNER.part\" \"$RUNNER\""))
    }

    func testTheRegistrationTokenIsHandedOverInTheEnvironmentAndStdinNeverOnACommandLine() {
        let script = RunnerBootstrap(runnerSource: .server(architecture: "x86_64", sha256: sha), serverURL: "https://s:3000",
                                     registrationToken: "abc123").render()
        XCTAssertTrue(script.contains("export DSTACK_REGISTRATION_TOKEN='abc123'\n"), script)
        XCTAssertEqual(script.components(separatedBy: "abc123").count, 2, "the token appears once, in the export")
        XCTAssertFalse(script.contains("--registration-token"), script)
        XCTAssertTrue(script.contains("curl -fsS --config -"), "curl reads the Authorization header from its stdin")
    }

    func testMissingLibrariesAreInstalledWithAptOrDnfWithRetries() {
        let script = RunnerBootstrap(runnerSource: .server(architecture: "x86_64", sha256: sha), serverURL: "https://s:3000").render()
        for needed in ["has_lib libcurl.so.4", "has_lib libcrypto.so.3", "has_lib libjansson.so.4", "command -v curl"] {
            XCTAssertTrue(script.contains(needed), "checks \(needed)")
        }
        XCTAssertTrue(script.contains("retry apt-get -q -y -o DPkg::Lock::Timeout=120 install --no-install-recommends $pkgs"))
        XCTAssertTrue(script.contains("retry dnf -q -y install $dnf_want"))
        XCTAssertTrue(script.contains("${p}t64"), "Ubuntu 24.04's renamed libraries are picked when the archive has them")
    }

    func testEveryRenderingIsValidShell() throws {
        for source in [RunnerBootstrap.RunnerSource.preinstalled, .url("https://example.com/r"), .server(architecture: "arm64", sha256: sha)] {
            let script = RunnerBootstrap(runnerSource: source, serverURL: "https://s:1", registrationToken: "t", serverPin: "sha256//x").render()
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString).sh")
            try script.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/bin/sh")
            check.arguments = ["-n", file.path]
            try check.run()
            check.waitUntilExit()
            XCTAssertEqual(check.terminationStatus, 0, "sh -n rejects the \(source) bootstrap:\n\(script)")
        }
    }

    func testAGivenRunnerURLIsUsedWhenTheImageLacksTheRunner() {
        let script = RunnerBootstrap(runnerSource: .url("https://example.com/dstack-runner"), serverURL: "http://10.0.0.1:3000").render()
        XCTAssertTrue(script.contains("retry curl -fsSL -o \"$RUNNER.part\" 'https://example.com/dstack-runner'"), script)
        XCTAssertTrue(script.contains("--server 'http://10.0.0.1:3000'"))
    }

    func testValuesAreShellQuoted() {
        let script = RunnerBootstrap(serverURL: "http://x/'; rm -rf /; '").render()
        XCTAssertTrue(script.contains("--server 'http://x/'\\''; rm -rf /; '\\'''"))
    }

    func testAPreinstalledRunnerDownloadsAndInstallsNothing() {
        let script = RunnerBootstrap().render()
        XCTAssertFalse(script.contains("curl"))
        XCTAssertFalse(script.contains("apt-get"))
    }
}

final class RunnerDeliveryTests: XCTestCase {
    private let cloud = ProviderPlugin(vendor: "cloud", displayName: "Cloud", fields: [],
                                       runnerDownloadURL: { $0["runner_url"] }) { _, _ in fatalError("not made") }
    private let local = ProviderPlugin(vendor: "here", displayName: "Here", fields: [], instancesRunOnThisMachine: true) { _, _ in
        fatalError("not made")
    }

    func testACloudsInstancesAreNotGivenALoopbackOrUnspecifiedURL() {
        for url in ["http://127.0.0.1:3000", "http://localhost:3000", "http://0.0.0.0:3000", "http://[::1]:3000", "http://127.1.2.3:9"] {
            let delivery = RunnerDelivery(advertiseURL: url, runnerBinaries: ["x86_64": "s"])
            XCTAssertEqual(delivery.unreachableReason(cloud),
                           "instances could not reach \(url); start the server with --advertise-url https://HOST:PORT")
            guard case .failure = delivery.bootstrap(plugin: cloud, settings: [:], architecture: "x86_64", registrationToken: "t") else {
                return XCTFail("\(url) was given to a cloud's instances")
            }
        }
        XCTAssertNil(RunnerDelivery(advertiseURL: "https://10.0.0.5:3000").unreachableReason(cloud))
        XCTAssertNil(RunnerDelivery(advertiseURL: "https://dstack.example.com").unreachableReason(cloud))
    }

    func testInstancesOnThisMachineReachLoopbackAndHaveTheRunner() throws {
        let bootstrap = try RunnerDelivery(advertiseURL: "http://127.0.0.1:3000")
            .bootstrap(plugin: local, settings: [:], architecture: nil, registrationToken: "t").get()
        XCTAssertEqual(bootstrap.runnerSource, .preinstalled)
    }

    func testLoopbackCanBeAllowedExplicitlyForRunnersStartedOnTheServersMachine() {
        XCTAssertNil(RunnerDelivery(advertiseURL: "http://127.0.0.1:3000", allowLoopbackAdvertise: true).unreachableReason(cloud))
    }

    func testTheServersOwnRunnerIsHandedOutForItsArchitectureAndARunnerURLOverridesIt() throws {
        let delivery = RunnerDelivery(advertiseURL: "https://10.0.0.5:3000", serverPin: "sha256//p", runnerBinaries: ["x86_64": "s1"])
        let served = try delivery.bootstrap(plugin: cloud, settings: [:], architecture: "x86_64", registrationToken: "t").get()
        XCTAssertEqual(served.runnerSource, .server(architecture: "x86_64", sha256: "s1"))
        XCTAssertEqual(served.serverPin, "sha256//p")
        let given = try delivery.bootstrap(plugin: cloud, settings: ["runner_url": "https://r/arm"], architecture: "arm64",
                                           registrationToken: "t").get()
        XCTAssertEqual(given.runnerSource, .url("https://r/arm"))
    }

    func testAnArchitectureWithoutARunnerIsRefusedNamingRunnerURL() {
        let delivery = RunnerDelivery(advertiseURL: "https://10.0.0.5:3000", runnerBinaries: ["x86_64": "s1"])
        guard case .failure(let error) = delivery.bootstrap(plugin: cloud, settings: [:], architecture: "arm64", registrationToken: "t") else {
            return XCTFail("an arm64 launch got a bootstrap without an arm64 runner")
        }
        XCTAssertTrue(error.description.contains("no runner for arm64 instances"), error.description)
        XCTAssertTrue(error.description.contains("dstack cloud configure --runner-url URL"), error.description)
    }
}
