/// The user data every vendor's instances boot with: one shell template that installs
/// the runner when it is missing and starts it. It carries no cloud credentials: the
/// runner needs none, only the address of the dstack server.
public struct RunnerBootstrap: Sendable, Equatable {
    /// Where the runner is downloaded from when the image does not have it.
    public var runnerURL: String?
    /// The dstack server the runner registers with.
    public var serverURL: String?
    /// The launch batch's registration token (the server keeps only its hash).
    public var registrationToken: String?

    public init(runnerURL: String? = nil, serverURL: String? = nil, registrationToken: String? = nil) {
        self.runnerURL = runnerURL
        self.serverURL = serverURL
        self.registrationToken = registrationToken
    }

    public func render() -> String {
        var lines = [
            "#!/bin/sh",
            "# dstack runner bootstrap: rendered by dstack, holds no cloud credentials.",
            "set -eu",
            "RUNNER=\"${DSTACK_RUNNER:-/usr/local/bin/dstack-runner}\"",
        ]
        if let runnerURL {
            lines += [
                "if [ ! -x \"$RUNNER\" ]; then",
                "  curl -fsSL --retry 5 -o \"$RUNNER\" \(shellQuoted(runnerURL))",
                "  chmod 0755 \"$RUNNER\"",
                "fi",
            ]
        }
        // The instance ID comes from the environment on the local provider and from the
        // instance metadata service (IMDSv2) on a cloud, where the variable is unset.
        var command = "exec \"$RUNNER\" --instance-id \"${DSTACK_INSTANCE_ID:-}\" --state-dir \"${DSTACK_INSTANCE_DIR:-/var/lib/dstack}\""
        command += " --orphan-action \"${DSTACK_ORPHAN_ACTION:-poweroff}\""
        if let serverURL { command += " --server \(shellQuoted(serverURL))" }
        // The token goes in the environment, not on the command line: `ps` shows arguments.
        if let registrationToken { lines.append("export DSTACK_REGISTRATION_TOKEN=\(shellQuoted(registrationToken))") }
        lines.append(command)
        return lines.joined(separator: "\n") + "\n"
    }

    private func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
