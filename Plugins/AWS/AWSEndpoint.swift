import DstackProvider
import Foundation

/// Where the EC2 API is, and in which region, resolved as AWS users expect.
public struct AWSEndpoint: Sendable, Equatable {
    public var region: String
    /// Base URL ending in "/", e.g. "https://ec2.eu-west-1.amazonaws.com/".
    public var url: String
    /// Which setting gave the URL: "default", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", "endpoint_url".
    public var source: String

    /// Region: the settings, then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the profile.
    static func region(settings: ProviderSettings, environment: [String: String], files: AWSConfigFiles) throws -> String {
        let profile = AWSConfigFiles.profileName(environment: environment)
        let candidates = [settings["region"], environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"],
                          files.config[profile]?["region"]]
        for candidate in candidates {
            if let region = candidate?.trimmingCharacters(in: .whitespaces), !region.isEmpty {
                guard region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                    throw ProviderError.invalidConfiguration(detail: "'\(region)' is not an AWS region name")
                }
                return region.lowercased()
            }
        }
        throw ProviderError.invalidConfiguration(
            detail: "no AWS region: run `dstack aws configure`, or set AWS_REGION or a region in the profile")
    }

    /// The endpoint: `https://ec2.{region}.amazonaws.com` unless overridden, in order, by
    /// `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, then the saved `endpoint_url`. Plain
    /// `http://` is accepted only for such an explicit endpoint (an emulator, a proxy).
    static func resolve(settings: ProviderSettings, environment: [String: String], files: AWSConfigFiles) throws -> AWSEndpoint {
        let region = try region(settings: settings, environment: environment, files: files)
        let ignoreEnvironment = environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() == "true"
        var overrides: [(String, String?)] = []
        if !ignoreEnvironment {
            overrides.append(("AWS_ENDPOINT_URL_EC2", environment["AWS_ENDPOINT_URL_EC2"]))
            overrides.append(("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"]))
        }
        overrides.append(("endpoint_url", settings["endpoint_url"]))
        for (source, value) in overrides {
            guard let raw = value?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            return AWSEndpoint(region: region, url: try validated(raw, source: source), source: source)
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return AWSEndpoint(region: region, url: "https://ec2.\(region).\(suffix)/", source: "default")
    }

    static func validated(_ raw: String, source: String) throws -> String {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
              components.query == nil else {
            throw ProviderError.invalidConfiguration(detail: "\(source) '\(raw)' is not an http(s) URL")
        }
        return raw.hasSuffix("/") ? raw : raw + "/"
    }
}
