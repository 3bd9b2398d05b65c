import DstackTesting
import Foundation
import XCTest

/// The web page in a real headless Chromium (Debian's, through Selenium), against a real
/// server on the local provider. `browser_check.py` does the browsing and prints one
/// "ok: ..." line per check; its screenshots (1280 and 390 px wide) are left in
/// `.build/web-screenshots/` for a person to look at.
final class BrowserTests: XCTestCase {
    func testThePageSignsInShowsRunsLiveAsTextStreamsLogsAndSignsOut() throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
            XCTFail("\(tool) is missing: apt-get install chromium chromium-driver (make test does)")
            return
        }
        let server = try WebServerHarness()
        defer {
            server.stop()
            server.removeHome()
        }
        try server.configureLocal(max: 2)
        let alice = try server.addUser("alice")
        let bob = try server.addUser("bob")
        let screenshots = WebTestScripts.buildDirectory.appendingPathComponent("web-screenshots")

        let result = try runCommand("/usr/bin/env", [
            "python3", WebTestScripts.path("browser_check.py"), "--url", server.url, "--admin", server.adminToken,
            "--alice", alice, "--bob", bob, "--screenshots", screenshots.path,
        ], timeout: 600)
        if result.stderr.contains("No module named 'selenium'") {
            XCTFail("selenium is not installed: pip install selenium (make test does)")
            return
        }
        XCTAssertEqual(result.status, 0, "the browser checks failed:\n\(result)\nserver log:\n\(server.output)")
        for check in [
            "the page is served with a strict Content-Security-Policy",
            "without a token only the sign-in form shows",
            "a wrong token fails",
            "the right token signs in",
            "the token is kept in an HttpOnly, SameSite=Strict cookie",
            "a submitted run appears live",
            "the run reaches done live, without a reload",
            "a run named <img src=x onerror=alert(1)> shows as text",
            "a user does not see another user's runs",
            "a change made with the cookie alone needs the X-Dstack-Request header",
            "the run's log shows its first line while the run runs",
            "its log streams live, and its status reaches done",
            "the run's page lists its artifacts",
            "usable by keyboard: every view is reached with Tab and Enter",
            "sign-out works",
            "an admin sees every user's runs",
            "the timeline shows launches",
            "an admin changes a max behind a confirmation",
            "no script errors or policy violations in the browser's console",
        ] {
            XCTAssertTrue(result.stdout.contains("ok: \(check)\n"), "not checked: \(check)\n\(result.stdout)")
        }
        for name in ["sign-in", "runs", "run", "instances", "rules", "timeline"] {
            for width in [1280, 390] {
                let file = screenshots.appendingPathComponent("\(name)-\(width).png")
                XCTAssertTrue(FileManager.default.fileExists(atPath: file.path), "no screenshot \(file.path)")
            }
        }
    }
}
