import DstackCore
import Foundation

// dstack-benchmarks artifact-s3 [--megabytes 1024] [--repeat 1] [--dstack PATH]
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
// `--artifact big.bin`; REPEAT times, each followed by `aws s3 cp`. Figures (medians):
//   - upload: from that printed time to the run's `artifacts: complete` log line (the
//     multipart upload through presigned UploadPart URLs, parts in flight together,
//     the SHA-256 computed alongside); `aws s3 cp` of the file to the same moto;
//   - the runner's peak RSS (VmHWM) and the highest RSS sampled every 20 ms: goal < 64 MB;
//   - download: `dstack artifacts download RUN DIR` (presigned GETs, SHA-256 checked)
//     against `aws s3 cp s3://BUCKET/dstack/artifacts/RUN/big.bin FILE`.

func benchmarkArtifactS3(megabytes: Int, repetitions: Int, dstackOverride: String?) throws {
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

    var runs = ArtifactBenchmarkRuns(dstack: dstack, environment: environment, directory: scratch, state: state)
    runs.runOptions = ["--instance-type", "m5.large"]

    // The warm-up run makes moto launch the instance; boot its user data here.
    let warmUp = try runs.submit(["--", "true"])
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
    try runs.waitForDone(warmUp)
    let pid = runner.pid
    let before = try ProcessStats.of(pid)

    // Each repetition: a fresh run uploads a fresh file, then `aws s3 cp` sends the same bytes.
    var uploads: [Double] = []
    var awsUploads: [Double] = []
    var highest = 0.0
    var id = ""
    let same = scratch.appendingPathComponent("same.bin").path
    for repetition in 1...max(1, repetitions) {
        try? FileManager.default.removeItem(atPath: same)
        let sampler = RSSSampler(pid: pid)
        id = try runs.submitBigFile(megabytes: megabytes, then: "ln big.bin '\(same)'")
        try runs.waitForDone(id)
        highest = max(highest, sampler.stop())
        uploads.append(try runs.uploadSeconds(id, context: "\n\(runner.log)"))
        let awsUpload = try run(aws, ["s3", "cp", same, "s3://\(bucket)/aws-cli/big-\(repetition).bin", "--endpoint-url", moto.url,
                                      "--only-show-errors"], environment: awsEnvironment)
        guard awsUpload.status == 0 else { throw BenchmarkError("aws s3 cp failed: \(awsUpload.output)") }
        awsUploads.append(awsUpload.seconds)
        // moto keeps objects in memory: drop this repetition's copies but the run's last one.
        _ = try? run(aws, ["s3", "rm", "s3://\(bucket)/aws-cli/big-\(repetition).bin", "--endpoint-url", moto.url, "--only-show-errors"],
                     environment: awsEnvironment)
        if repetition < repetitions {
            _ = try? run(aws, ["s3", "rm", "s3://\(bucket)/dstack/artifacts/\(id)/big.bin", "--endpoint-url", moto.url, "--only-show-errors"],
                         environment: awsEnvironment)
        }
        print(String(format: "  repetition %d: runner %.2f s, aws s3 cp %.2f s", repetition, uploads.last!, awsUpload.seconds))
    }
    let after = try ProcessStats.of(pid)

    let target = scratch.appendingPathComponent("download")
    let download = try run(dstack, ["artifacts", "download", id, target.path], environment: environment)
    guard download.status == 0 else { throw BenchmarkError("dstack artifacts download failed: \(download.output)") }
    let awsDownload = try run(aws, ["s3", "cp", "s3://\(bucket)/dstack/artifacts/\(id)/big.bin", scratch.appendingPathComponent("aws-cli.bin").path,
                                    "--endpoint-url", moto.url, "--only-show-errors"], environment: awsEnvironment)
    guard awsDownload.status == 0 else { throw BenchmarkError("aws s3 cp (download) failed: \(awsDownload.output)") }
    let identical = try mustRun("/usr/bin/cmp", [same, target.appendingPathComponent("big.bin").path], environment: awsEnvironment)

    let mib = Double(megabytes)
    let (upload, awsUpload) = (median(uploads), median(awsUploads))
    print("artifact-s3: one \(megabytes) MiB file, runner → moto S3 through presigned URLs, \(uploads.count) time(s); medians:")
    print(String(format: "  upload by the runner (multipart, parts in flight together, SHA-256 alongside): %.2f s = %.0f MiB/s",
                 upload, mib / upload))
    print(String(format: "  aws s3 cp of the same file to the same moto:                                   %.2f s = %.0f MiB/s",
                 awsUpload, mib / awsUpload))
    print(String(format: "  runner / aws s3 cp: %.2fx the time", upload / awsUpload))
    print(String(format: "  runner peak RSS (VmHWM): %.1f MiB (%.1f MiB before the runs); highest sampled RSS during them: %.1f MiB; goal < 64 MB",
                 after.peakRSSMiB, before.peakRSSMiB, highest))
    print(String(format: "  dstack artifacts download (presigned GET + SHA-256): %.2f s = %.0f MiB/s", download.seconds, mib / download.seconds))
    print(String(format: "  aws s3 cp back from the same moto:                    %.2f s = %.0f MiB/s", awsDownload.seconds, mib / awsDownload.seconds))
    print("  the download matches the file byte for byte\(identical.isEmpty ? "" : ": \(identical)")")
}
