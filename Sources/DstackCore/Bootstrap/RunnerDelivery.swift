import Foundation

/// How a launch's instances get the runner and reach the server: the advertised URL,
/// the pin of a self-signed certificate, and the runner binaries the server hands out.
/// `dstack server` settles it once at start; the reconciler renders each launch's
/// bootstrap from it.
public struct RunnerDelivery: Sendable, Equatable {
    /// The URL instances are given to reach the server.
    public var advertiseURL: String
    /// `sha256//BASE64` of the server's public key, when its certificate is self-signed.
    public var serverPin: String?
    /// Architecture → SHA-256 of the runner binary this server serves for it.
    public var runnerBinaries: [String: String]
    /// Lets cloud launches go out with a loopback URL: only for runners started on the
    /// server's own machine, as the moto tests do.
    public var allowLoopbackAdvertise: Bool

    public init(advertiseURL: String = "http://127.0.0.1:3000", serverPin: String? = nil, runnerBinaries: [String: String] = [:],
                allowLoopbackAdvertise: Bool = false) {
        self.advertiseURL = advertiseURL
        self.serverPin = serverPin
        self.runnerBinaries = runnerBinaries
        self.allowLoopbackAdvertise = allowLoopbackAdvertise
    }

    /// Why instances of this provider could not reach the server, or nil when they can.
    public func unreachableReason(_ plugin: ProviderPlugin) -> String? {
        if plugin.instancesRunOnThisMachine || allowLoopbackAdvertise || !AdvertiseURL.isLocalOnly(advertiseURL) { return nil }
        return "instances could not reach \(advertiseURL); start the server with --advertise-url https://HOST:PORT"
    }

    /// The bootstrap of one launch, or the one sentence why it cannot be made.
    public func bootstrap(plugin: ProviderPlugin, settings: ProviderSettings, architecture: String?,
                          registrationToken: String) -> Result<RunnerBootstrap, RunnerDeliveryError> {
        if let reason = unreachableReason(plugin) { return .failure(RunnerDeliveryError(reason)) }
        let source: RunnerBootstrap.RunnerSource
        if plugin.instancesRunOnThisMachine {
            source = .preinstalled
        } else if let url = plugin.runnerDownloadURL(settings) {
            source = .url(url)
        } else if let architecture, let sha256 = runnerBinaries[architecture] {
            source = .server(architecture: architecture, sha256: sha256)
        } else {
            return .failure(RunnerDeliveryError(Self.noRunnerReason(architecture ?? "unknown", vendor: plugin.vendor)))
        }
        return .success(RunnerBootstrap(runnerSource: source, serverURL: advertiseURL, registrationToken: registrationToken,
                                        serverPin: serverPin))
    }

    public static func noRunnerReason(_ architecture: String, vendor: String) -> String {
        "this dstack has no runner for \(architecture) instances; build one (make builds the one for this machine) "
            + "or give its download URL with 'dstack \(vendor) configure --runner-url URL'"
    }
}

public struct RunnerDeliveryError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What an advertised URL says about who can reach it.
public enum AdvertiseURL {
    /// The host part of an http(s) URL, without brackets; nil when there is none.
    public static func host(of url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return nil }
        return host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// True for a URL only this machine can reach, or none can: loopback (127.0.0.0/8,
    /// ::1, localhost), the unspecified address (0.0.0.0, ::), or no host at all.
    public static func isLocalOnly(_ url: String) -> Bool {
        guard let host = host(of: url)?.lowercased() else { return true }
        return isLoopbackOrUnspecified(host)
    }

    public static func isLoopbackOrUnspecified(_ host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host == "::" || host == "0.0.0.0" { return true }
        if host.hasPrefix("127."), host.split(separator: ".").count == 4 { return true }
        return host == "0:0:0:0:0:0:0:1" || host == "0:0:0:0:0:0:0:0"
    }
}
