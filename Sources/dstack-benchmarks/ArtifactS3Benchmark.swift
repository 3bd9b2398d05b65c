import DstackCore
import Foundation

// dstack-benchmarks artifact-s3 [--megabytes 1024] [--dstack PATH]
//
// The runner uploading one big artifact to an S3 bucket (moto) through the URLs the
// server presigns, against `aws s3 cp` of the same file to the same moto in the same
// run; then `dstack artifacts download` against `aws s3 cp` back. Starts moto_server,
// creates the bucket (`aws s3api create-bucket`), starts `dstack server` (the one given
// or next to this binary; it hands instances the `dstack-runner-linux-x86_64` next to
// it) with AWS configured for moto (`--s3-endpoint-url`, `--artifact-s3-bucket`), and
// boots the m5.large spot instance moto launches from its user data on this machine,
// as the AWS end-to-end tests do. A warm-up run brings the runner up. Then one run
// writes MEGABYTES of random bytes to big.bin, hard-links it into the scratch directory
// (so `aws s3 cp` sends the very same file), prints the time, and declares
// `--artifact big.bin`. Figures:
//   - upload: from that printed time to the run's `artifacts: complete` log line (the
//     runner's SHA-256 pass, then the multipart upload through presigned UploadPart
//     URLs, one part at a time); `aws s3 cp` of the file to the same moto;
//   - the runner's peak RSS (VmHWM) and the highest RSS sampled every 20 ms: goal < 64 MB;
//   - download: `dstack artifacts download RUN DIR` (presigned GETs, SHA-256 checked)
//     against `aws s3 cp s3://BUCKET/dstack/artifacts/RUN/big.bin FILE`.

func benchmarkArtifactS3(megabytes: Int, dstackOverride: String?) throws {
    let dstack = try siblingBinary("dstack", override: dstackOverride)
    guard let aws = which("aws") else { throw BenchmarkError("the AWS CLI (aws) is not on PATH") }
    let scratch = try scratchDirectory("artifact-s3")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let moto = try Moto(scratch: scratch)
    defer { moto.stop() }
    let bucket = "dstack-bench"
    var awsEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
    awsEnvironment.merge(["AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1",
                          "AWS_EC2_METADATA_DISABLED": "true", "HOME": scratch.path]) { _, new in new }
    try mustRun(aws, ["s3api", "create-bucket", "--bucket", bucket, "--endpoint-url", moto.url], environment: awsEnvironment)

    let port = try freePort()
    let serverURL = "http://127.0.0.1:\(port)"
    let home = scratch.appendingPathComponent("home")
    let environment = dstackEnvironment(home: home, extra: ["HOME": scratch.path, "DSTACK_SERVER_URL": serverURL])
    let server = try Child("dstack server", executable: dstack,
                           arguments: ["server", "--port", String(port), "--idle-timeout", "30m", "--reconcile-interval", "1s",
                                       "--allow-loopback-advertise"],
                           environment: environment, log: scratch.appendingPathComponent("server.log"))
    defer { server.stop() }
    try waitForServer(serverURL, server: server)
    try mustRun(dstack, ["aws", "configure", "--access-key-id", "AKIDBENCH", "--secret-access-key", "bench-secret", "--region", "us-east-1",
                         "--endpoint-url", moto.url, "--s3-endpoint-url", moto.url, "--artifact-s3-bucket", bucket], environment: environment)
    try mustRun(dstack, ["autoscale", "allow", "m5.large", "--max", "1"], environment: environment)
    let state = try StateStore(home: DstackHome(url: home))

    func submit(_ arguments: [String]) throws -> String {
        let result = try run(dstack, ["run", "--detach", "--no-code", "--instance-type", "m5.large"] + arguments,
                             environment: environment, directory: scratch)
        guard result.status == 0, let id = result.output.split(separator: "\n").map(String.init).first(where: { $0.hasPrefix("run-") }) else {
            throw BenchmarkError("dstack run failed (\(result.status)): \(result.output)")
        }
        return id
    }
    func waitForDone(_ id: String) throws {
        try waitUntil(timeout: 1800, interval: 0.05, "run \(id) to finish") {
            guard let run = try state.read({ try $0.run(id) }) else { return false }
            if run.status.isFinished, run.status != .done {
                throw BenchmarkError("run \(id) ended \(run.status): \(try state.read { try $0.logs(runID: id) }.map(\.text).joined())")
            }
            return run.status == .done
        }
    }

    // The warm-up run makes moto launch the instance; boot its user data here.
    let warmUp = try submit(["--", "true"])
    var launched: [String] = []
    try waitUntil(timeout: 60, interval: 0.25, "a spot instance in moto") {
        let listed = try run(aws, ["ec2", "describe-instances", "--endpoint-url", moto.url, "--query",
                                   "Reservations[].Instances[].InstanceId", "--output", "text"], environment: awsEnvironment)
        launched = listed.output.split(whereSeparator: \.isWhitespace).map(String.init).filter { $0.hasPrefix("i-") }
        return !launched.isEmpty
    }
    let instanceID = launched[0]
    let encoded = try mustRun(aws, ["ec2", "describe-instance-attribute", "--endpoint-url", moto.url, "--instance-id", instanceID,
                                    "--attribute", "userData", "--query", "UserData.Value", "--output", "text"], environment: awsEnvironment)
    guard let userData = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw BenchmarkError("instance \(instanceID) has no user data")
    }
    let script = scratch.appendingPathComponent("user-data.sh")
    try userData.write(to: script)
    // The user data execs the runner: this PID becomes the runner's.
    let runner = try Child("runner", executable: "/bin/sh", arguments: [script.path],
                           environment: ["PATH": "/usr/bin:/bin", "DSTACK_RUNNER": scratch.appendingPathComponent("bin/dstack-runner").path,
                                         "DSTACK_INSTANCE_ID": instanceID, "DSTACK_ORPHAN_ACTION": "exit",
                                         "DSTACK_INSTANCE_DIR": scratch.appendingPathComponent("instance").path],
                           log: scratch.appendingPathComponent("runner.log"))
    defer { runner.stop() }
    try waitForDone(warmUp)
    let pid = runner.pid
    let before = try ProcessStats.of(pid)

    let sampling = LockedBox<(running: Bool, highest: Double)>((true, 0))
    let sampler = Thread {
        while sampling.value.running {
            if let stats = try? ProcessStats.of(pid) { sampling.withValue { $0.highest = max($0.highest, stats.rssMiB) } }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
    sampler.start()
    let same = scratch.appendingPathComponent("same.bin").path
    let id = try submit(["--artifact", "big.bin", "--", "sh", "-c",
                         "dd if=/dev/urandom of=big.bin bs=1M count=\(megabytes) status=none && ln big.bin '\(same)' && date +%s.%N"])
    try waitForDone(id)
    sampling.withValue { $0.running = false }
    let after = try ProcessStats.of(pid)
    let logs = try state.read { try $0.logs(runID: id) }
    guard let written = logs.first(where: { $0.stream == .stdout }).flatMap({ Double($0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }),
          let complete = logs.first(where: { $0.text.contains("artifacts: complete") }) else {
        throw BenchmarkError("run \(id) did not upload its artifact: \(logs.map(\.text).joined())\n\(runner.log)")
    }
    let upload = complete.at.timeIntervalSince1970 - written
    let awsUpload = try run(aws, ["s3", "cp", same, "s3://\(bucket)/aws-cli/big.bin", "--endpoint-url", moto.url, "--only-show-errors"],
                            environment: awsEnvironment)
    guard awsUpload.status == 0 else { throw BenchmarkError("aws s3 cp failed: \(awsUpload.output)") }

    let target = scratch.appendingPathComponent("download")
    let download = try run(dstack, ["artifacts", "download", id, target.path], environment: environment)
    guard download.status == 0 else { throw BenchmarkError("dstack artifacts download failed: \(download.output)") }
    let awsDownload = try run(aws, ["s3", "cp", "s3://\(bucket)/dstack/artifacts/\(id)/big.bin", scratch.appendingPathComponent("aws-cli.bin").path,
                                    "--endpoint-url", moto.url, "--only-show-errors"], environment: awsEnvironment)
    guard awsDownload.status == 0 else { throw BenchmarkError("aws s3 cp (download) failed: \(awsDownload.output)") }
    let identical = try mustRun("/usr/bin/cmp", [same, target.appendingPathComponent("big.bin").path], environment: awsEnvironment)

    let mib = Double(megabytes)
    print("artifact-s3: one \(megabytes) MiB file, runner → moto S3 through presigned URLs, in one run:")
    print(String(format: "  upload by the runner (SHA-256 pass + multipart PUTs): %.2f s = %.0f MiB/s", upload, mib / upload))
    print(String(format: "  aws s3 cp of the same file to the same moto:           %.2f s = %.0f MiB/s", awsUpload.seconds, mib / awsUpload.seconds))
    print(String(format: "  runner peak RSS (VmHWM): %.1f MiB (%.1f MiB before the run); highest sampled RSS during it: %.1f MiB; goal < 64 MB",
                 after.peakRSSMiB, before.peakRSSMiB, sampling.value.highest))
    print(String(format: "  dstack artifacts download (presigned GET + SHA-256): %.2f s = %.0f MiB/s", download.seconds, mib / download.seconds))
    print(String(format: "  aws s3 cp back from the same moto:                    %.2f s = %.0f MiB/s", awsDownload.seconds, mib / awsDownload.seconds))
    print("  the download matches the file byte for byte\(identical.isEmpty ? "" : ": \(identical)")")
}
