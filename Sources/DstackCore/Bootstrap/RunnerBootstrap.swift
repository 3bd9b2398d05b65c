/// The user data every vendor's instances boot with: one shell template that installs
/// what the runner needs, fetches the runner, checks it, and starts it. It carries no
/// cloud credentials: the runner needs none, only the address of the dstack server.
///
/// It must work on a stock image (Debian, Ubuntu, Amazon Linux) as root, with
/// nothing of dstack on it: the libraries the runner links (libcurl, libcrypto,
/// jansson) are installed when missing, with retries, since a new instance's network
/// and package mirrors are often not ready in its first seconds.
public struct RunnerBootstrap: Sendable, Equatable {
    /// Where the runner comes from.
    public enum RunnerSource: Sendable, Equatable {
        /// The image (or the local provider, through `$DSTACK_RUNNER`) has it.
        case preinstalled
        /// Downloaded from a URL the user gave (`--runner-url`) when the image lacks it.
        case url(String)
        /// Downloaded from the dstack server itself, authorised by the batch's
        /// registration token, and checked against this SHA-256 before it runs.
        case server(architecture: String, sha256: String)
    }

    public var runnerSource: RunnerSource
    /// The dstack server the runner registers with.
    public var serverURL: String?
    /// The launch batch's registration token (the server keeps only its hash).
    public var registrationToken: String?
    /// `sha256//BASE64` of the server's public key when its certificate is self-signed.
    public var serverPin: String?

    public init(runnerSource: RunnerSource = .preinstalled, serverURL: String? = nil, registrationToken: String? = nil,
                serverPin: String? = nil) {
        self.runnerSource = runnerSource
        self.serverURL = serverURL
        self.registrationToken = registrationToken
        self.serverPin = serverPin
    }

    public func render() -> String {
        var lines = [
            "#!/bin/sh",
            "# dstack runner bootstrap: rendered by dstack, holds no cloud credentials.",
            "set -eu",
            "export PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}\"",
            "RUNNER=\"${DSTACK_RUNNER:-/usr/local/bin/dstack-runner}\"",
            // The token goes in the environment, not on a command line: `ps` shows arguments.
            registrationToken.map { "export DSTACK_REGISTRATION_TOKEN=\(shellQuoted($0))" },
            "say() { echo \"dstack-bootstrap: $*\" >&2; }",
            "retry() {",
            "  n=1",
            "  until \"$@\"; do",
            "    [ \"$n\" -ge 6 ] && { say \"gave up after $n tries: $*\"; return 1; }",
            "    say \"retrying in $((n * 3))s: $*\"; sleep $((n * 3)); n=$((n + 1))",
            "  done",
            "}",
        ].compactMap { $0 }
        switch runnerSource {
        case .preinstalled:
            break
        case .url(let url):
            lines += Self.installMissingLibraries(needCurl: true)
            lines += [
                "if [ ! -x \"$RUNNER\" ]; then",
                "  mkdir -p \"$(dirname \"$RUNNER\")\"",
                "  retry curl -fsSL -o \"$RUNNER.part\" \(shellQuoted(url))",
                "  chmod 0755 \"$RUNNER.part\" && mv \"$RUNNER.part\" \"$RUNNER\"",
                "fi",
            ]
        case .server(let architecture, let sha256):
            let url = (serverURL ?? "") + RunnerAPI.runnerBinaryPath(architecture: architecture)
            // With a pinned key, -k only drops the chain check: curl still refuses a
            // server whose key is not the pinned one.
            let tls = serverPin.map { " -k --pinnedpubkey \(shellQuoted($0))" } ?? ""
            lines += Self.installMissingLibraries(needCurl: true)
            lines += [
                "mkdir -p \"$(dirname \"$RUNNER\")\"",
                "fetch_runner() {",
                // The token reaches curl on its standard input, not its command line.
                "  printf 'header = \"Authorization: Bearer %s\"\\n' \"$DSTACK_REGISTRATION_TOKEN\" |",
                "    curl -fsS --config -\(tls) -o \"$RUNNER.part\" \(shellQuoted(url))",
                "}",
                "retry fetch_runner",
                "printf '%s  %s\\n' \(shellQuoted(sha256)) \"$RUNNER.part\" | sha256sum -c - >/dev/null 2>&1 || {",
                "  say \"the runner downloaded from the server does not match its SHA-256; not starting it\"",
                "  rm -f \"$RUNNER.part\"",
                "  exit 1",
                "}",
                "chmod 0755 \"$RUNNER.part\" && mv \"$RUNNER.part\" \"$RUNNER\"",
            ]
        }
        // The instance ID comes from the environment on the local provider and from the
        // instance metadata service (IMDSv2) on a cloud, where the variable is unset.
        var command = "exec \"$RUNNER\" --instance-id \"${DSTACK_INSTANCE_ID:-}\" --state-dir \"${DSTACK_INSTANCE_DIR:-/var/lib/dstack}\""
        command += " --orphan-action \"${DSTACK_ORPHAN_ACTION:-poweroff}\""
        // A stand-in metadata service (the local provider's, in tests); a cloud has the real one.
        command += " ${DSTACK_METADATA_URL:+--metadata-url \"$DSTACK_METADATA_URL\"}"
        if let serverURL { command += " --server \(shellQuoted(serverURL))" }
        if let serverPin { command += " --server-pin \(shellQuoted(serverPin))" }
        lines.append(command)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The shell that installs what the runner links, and curl to fetch it, when the
    /// image lacks them: apt (Debian, Ubuntu; Ubuntu 24.04 renamed some libraries with
    /// a `t64` suffix), then dnf or yum (Amazon Linux, Fedora, RHEL).
    static func installMissingLibraries(needCurl: Bool) -> [String] {
        [
            "has_lib() { ldconfig -p 2>/dev/null | grep -q \"^[[:space:]]*$1 \"; }",
            "apt_want=''; dnf_want=''",
            needCurl ? "command -v curl >/dev/null 2>&1 || { apt_want=\"$apt_want curl ca-certificates\"; dnf_want=\"$dnf_want curl-minimal ca-certificates\"; }" : nil,
            "has_lib libcurl.so.4 || { apt_want=\"$apt_want libcurl4\"; dnf_want=\"$dnf_want libcurl-minimal\"; }",
            "has_lib libcrypto.so.3 || { apt_want=\"$apt_want libssl3\"; dnf_want=\"$dnf_want openssl-libs\"; }",
            "has_lib libjansson.so.4 || { apt_want=\"$apt_want libjansson4\"; dnf_want=\"$dnf_want jansson\"; }",
            "if [ -n \"$apt_want\" ]; then",
            "  say \"installing what the runner needs:$apt_want\"",
            "  if command -v apt-get >/dev/null 2>&1; then",
            "    export DEBIAN_FRONTEND=noninteractive",
            "    retry apt-get -q -o DPkg::Lock::Timeout=120 update",
            "    pkgs=''",
            "    for p in $apt_want; do",
            "      if apt-cache show \"${p}t64\" >/dev/null 2>&1; then pkgs=\"$pkgs ${p}t64\"; else pkgs=\"$pkgs $p\"; fi",
            "    done",
            "    retry apt-get -q -y -o DPkg::Lock::Timeout=120 install --no-install-recommends $pkgs",
            "  elif command -v dnf >/dev/null 2>&1; then",
            "    retry dnf -q -y install $dnf_want",
            "  elif command -v yum >/dev/null 2>&1; then",
            "    retry yum -q -y install $dnf_want",
            "  else",
            "    say \"cannot install$apt_want: this image has no apt-get, dnf or yum\"",
            "    exit 1",
            "  fi",
            "fi",
        ].compactMap { $0 }
    }

    private func shellQuoted(_ value: String) -> String {
        Self.shellQuoted(value)
    }

    static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
