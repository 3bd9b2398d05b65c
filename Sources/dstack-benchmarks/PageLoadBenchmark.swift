import DstackCore
import Foundation

// dstack-benchmarks page-load [LOADS] [--dstack PATH]
//
// The web page's first load in Debian's headless Chromium (Selenium, chromedriver), with
// 1,000 runs and 100 instances in the state. The instances are 100 simulated local ones
// (`dstack local configure --simulated true`, `dstack instances request local --count
// 100`): the cloud's list holds them and no process runs. The runs are written straight
// into state.db while the server is stopped: 1,000 finished runs of three users. Then the
// server starts again on a free port, the admin signs in once, and each of LOADS loads
// (after one warm-up) is a fresh navigation to `/` with an empty HTTP cache: the time
// from navigation start to the `runs-shown` mark the script sets once the runs table is
// filled, and the bytes transferred (navigation + every resource, the API's JSON
// included). Goals: under 300 ms, under 100 KB.

func benchmarkPageLoad(loads: Int, dstackOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
        throw BenchmarkError("\(tool) is missing: apt-get install chromium chromium-driver")
    }
    let scratch = try scratchDirectory("page-load")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let home = scratch.appendingPathComponent("home")
    let background = dstackEnvironment(home: home, extra: ["HOME": scratch.path])
    try mustRun(dstack, ["local", "configure", "--simulated", "true"], environment: background)
    try mustRun(dstack, ["autoscale", "allow", "local", "--max", "100"], environment: background)
    try mustRun(dstack, ["instances", "request", "local", "--count", "100"], environment: background)
    try mustRun(dstack, ["server", "stop"], environment: background)

    let state = try StateStore(home: DstackHome(url: home))
    let users = ["admin", "alice", "bob"]
    try state.write { tx in
        let start = Date().addingTimeInterval(-86_400)
        for index in 0..<1_000 {
            let id = String(format: "run-%08x", index)
            let at = start.addingTimeInterval(Double(index) * 60)
            try tx.submitRun(id: id, workflow: "train-\(index % 7)", commands: ["python train.py --epoch \(index)"],
                             requirements: ResourceRequirements(), submittedBy: users[index % users.count], at: at)
            try tx.setRunStatus(id, index % 10 == 0 ? .failed : .done, reason: index % 10 == 0 ? "exit code 1" : nil,
                                exitCode: index % 10 == 0 ? 1 : 0, at: at.addingTimeInterval(45))
        }
    }

    let port = try freePort()
    let url = "http://127.0.0.1:\(port)"
    let server = try Child("dstack server", executable: dstack, arguments: ["server", "--port", String(port), "--idle-timeout", "30m"],
                           environment: background, log: scratch.appendingPathComponent("server.log"))
    defer { server.stop() }
    try waitForServer(url, server: server)
    let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    let script = scratch.appendingPathComponent("page_load.py")
    try pageLoadScript.write(to: script, atomically: true, encoding: .utf8)
    let result = try run("/usr/bin/env", ["python3", script.path, url, token, String(loads)],
                         environment: ProcessInfo.processInfo.environment)
    guard result.status == 0 else { throw BenchmarkError("the page-load script failed: \(result.output)\nserver: \(server.log)") }
    print("web page first load, 1,000 runs and 100 instances in the state, headless Chromium (\(loads) loads after a warm-up):")
    print(result.output, terminator: "")
    print("load average at the end: \(loadAverage())")
}

/// The browsing half: Selenium drives Chromium; Performance API figures are read from
/// the page itself. chromedriver listens on a free port and is killed by its PID.
let pageLoadScript = #"""
import os, signal, socket, statistics, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

url, token, loads = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
             f"--remote-debugging-port={free_port()}", "--no-first-run", "--disable-extensions"]:
    options.add_argument(flag)
service = Service(executable_path="/usr/bin/chromedriver", port=free_port())
driver = webdriver.Chrome(service=service, options=options)
try:
    driver.get(url + "/")
    driver.execute_script("""
        return fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({token: arguments[0]})}).then((r) => r.status);""", token)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    times, sizes, page_sizes, rows = [], [], [], 0
    for index in range(loads + 1):
        driver.get("about:blank")
        driver.get(url + "/")
        deadline = time.time() + 30
        mark = None
        while time.time() < deadline and mark is None:
            mark = driver.execute_script("const m = performance.getEntriesByName('runs-shown'); return m.length ? m[0].startTime : null;")
            if mark is None:
                time.sleep(0.01)
        if mark is None:
            raise SystemExit("the runs table never showed")
        time.sleep(0.3)  # let the other requests (the stream of changes) start, so they count
        total, page = driver.execute_script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const resources = performance.getEntriesByType('resource');
            const page = nav.transferSize + resources.filter((r) => /\\/app\\.(js|css)$/.test(r.name)).reduce((s, r) => s + r.transferSize, 0);
            return [nav.transferSize + resources.reduce((s, r) => s + r.transferSize, 0), page];""")
        rows = driver.execute_script("return document.querySelectorAll('#runs-table tbody tr').length;")
        if mark > 1000:  # say where a slow load spent its time
            detail = driver.execute_script("""
                return performance.getEntries().map((e) => e.entryType + ' ' + e.name.replace(location.origin, '') + ' start '
                  + Math.round(e.startTime) + ' took ' + Math.round(e.duration)
                  + (e.requestStart ? ' (request sent at ' + Math.round(e.requestStart) + ', first byte ' + Math.round(e.responseStart) + ')' : ''));""")
            print(f"  load {index} took {mark:.0f} ms: " + "; ".join(detail))
        if index > 0:
            times.append(mark)
            sizes.append(total)
            page_sizes.append(page)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    print(f"  navigation -> runs table shown ({rows} rows): median {statistics.median(times):.0f} ms, p90 {p90:.0f} ms, "
          f"min {times[0]:.0f}, max {times[-1]:.0f}")
    print(f"  transferred: {max(sizes) / 1024:.1f} KB in all (HTML, script, style and the API's JSON); "
          f"the page's own files {max(page_sizes) / 1024:.1f} KB")
    print("  each load (ms): " + " ".join(f"{t:.0f}" for t in times))
    print("  goal < 300 ms: " + ("met" if statistics.median(times) < 300 else "MISSED"))
    print("  goal < 100 KB: " + ("met" if max(sizes) < 100 * 1024 else "MISSED"))
finally:
    try:
        driver.quit()
    finally:
        if service.process is not None and service.process.poll() is None:
            os.kill(service.process.pid, signal.SIGKILL)
"""#
