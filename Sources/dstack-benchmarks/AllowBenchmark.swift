import Foundation

// dstack-benchmarks allow MOTO_URL DSTACK_BINARY [RUNS]
//
// `dstack autoscale allow m5.xlarge --max 1` next to `aws ec2 describe-instance-types
// --instance-types m5.xlarge`, the same moto, interleaved in one run. The CLI is a client
// of the server: the first command (`dstack aws configure`) starts this home's server in
// the background, as on a fresh machine, and `dstack server stop` stops it at the end.
// The server validates the type against the account through its offerings cache (at
// most 10 minutes old), so the first allow asks moto and the timed ones answer from the
// cache; the first one's time is printed on its own. One warm-up of each, then RUNS of
// each: median, p90, min, max.

func benchmarkAllow(moto: String, dstack: String, runs: Int) throws {
    guard let aws = which("aws") else { throw BenchmarkError("the aws CLI is not on PATH") }
    let scratch = try scratchDirectory("allow")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let environment = dstackEnvironment(home: scratch.appendingPathComponent("home"), extra: ["HOME": scratch.path])
    defer { _ = try? run(dstack, ["server", "stop"], environment: environment) }
    try mustRun(dstack, ["aws", "configure", "--access-key-id", "AKIDBENCH", "--secret-access-key", "bench-secret",
                         "--region", "us-east-1", "--endpoint-url", moto, "--no-verify",
                         // No runner binary need sit next to this dstack: the instances never boot.
                         "--runner-url", "https://example.invalid/dstack-runner"], environment: environment)

    var awsEnvironment = environment
    awsEnvironment["AWS_ACCESS_KEY_ID"] = "AKIDBENCH"
    awsEnvironment["AWS_SECRET_ACCESS_KEY"] = "bench-secret"
    awsEnvironment["AWS_DEFAULT_REGION"] = "us-east-1"
    awsEnvironment["AWS_CONFIG_FILE"] = "/dev/null"
    awsEnvironment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"

    let allowArguments = ["autoscale", "allow", "m5.xlarge", "--max", "1"]
    let first = try timedSpawn(dstack, allowArguments, environment: environment)
    guard first.status == 0 else { throw BenchmarkError("dstack autoscale allow failed: \(first.output)") }
    var allowTimes: [Double] = []
    var awsTimes: [Double] = []
    for index in 0..<(runs + 1) { // the first aws call is a warm-up (page cache, moto's lazy loading)
        let allow = try timedSpawn(dstack, allowArguments, environment: environment)
        guard allow.status == 0 else { throw BenchmarkError("dstack autoscale allow failed: \(allow.output)") }
        let cli = try timedSpawn(aws, ["ec2", "describe-instance-types", "--instance-types", "m5.xlarge", "--endpoint-url", moto,
                                "--output", "json"], environment: awsEnvironment)
        guard cli.status == 0 else { throw BenchmarkError("aws ec2 describe-instance-types failed: \(cli.output)") }
        if index > 0 {
            allowTimes.append(allow.seconds * 1000)
            awsTimes.append(cli.seconds * 1000)
        }
    }
    _ = try? run(dstack, ["autoscale", "clear"], environment: environment)
    func line(_ name: String, _ values: [Double]) -> String {
        name + String(format: " median %.1f ms, p90 %.1f ms (min %.1f, max %.1f, %d runs)", percentile(values, 0.5),
               percentile(values, 0.9), values.min()!, values.max()!, values.count)
    }
    print(String(format: "first dstack autoscale allow (the server asks moto; later ones hit its offerings cache): %.1f ms",
                 first.seconds * 1000))
    print(line("dstack autoscale allow m5.xlarge --max 1:                  ", allowTimes))
    print(line("aws ec2 describe-instance-types --instance-types m5.xlarge:", awsTimes))
    print(String(format: "allow is %.1fx faster than the aws CLI (medians; p90s: %.1fx)",
                 percentile(awsTimes, 0.5) / percentile(allowTimes, 0.5), percentile(awsTimes, 0.9) / percentile(allowTimes, 0.9)))
    print("load average at the end: \(loadAverage())")
}

/// /proc/loadavg's 1-, 5- and 15-minute figures.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}
