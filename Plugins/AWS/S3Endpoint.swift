import DstackProvider
import Foundation

/// Where S3 is and how a bucket is addressed in URLs. By default the regional endpoint
/// with the bucket in the host name (`https://BUCKET.s3.REGION.amazonaws.com/KEY`).
/// An explicit endpoint (moto, MinIO, a VPC endpoint) gets path-style addressing
/// (`ENDPOINT/BUCKET/KEY`), since such a host cannot take the bucket as a subdomain;
/// so does a bucket with a dot in its name, which would not match S3's certificate.
struct S3Endpoint: Sendable, Equatable {
    var region: String
    /// Without the trailing slash: "https://s3.eu-west-1.amazonaws.com".
    var base: String
    var pathStyle: Bool
    /// Which setting gave the URL: "default", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "s3_endpoint_url".
    var source: String

    /// The same order as EC2's endpoint, with S3's own names: `AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL`, then the saved `s3_endpoint_url`. The EC2 `endpoint_url` does
    /// not count: an EC2 VPC endpoint is no S3 endpoint.
    static func resolve(settings: ProviderSettings, environment: [String: String], files: AWSConfigFiles) throws -> S3Endpoint {
        let region = try AWSEndpoint.region(settings: settings, environment: environment, files: files)
        var overrides: [(String, String?)] = []
        if environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() != "true" {
            overrides.append(("AWS_ENDPOINT_URL_S3", environment["AWS_ENDPOINT_URL_S3"]))
            overrides.append(("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"]))
        }
        overrides.append(("s3_endpoint_url", settings["s3_endpoint_url"]))
        for (source, value) in overrides {
            guard let raw = value?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            let url = try AWSEndpoint.validated(raw, source: source)
            return S3Endpoint(region: region, base: String(url.dropLast()), pathStyle: true, source: source)
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return S3Endpoint(region: region, base: "https://s3.\(region).\(suffix)", pathStyle: false, source: "default")
    }

    /// The URL of a bucket (`key` nil) or an object, each key segment URI-encoded once
    /// (S3 signs the path as sent), with `query` already encoded.
    func url(bucket: String, key: String? = nil, query: String = "") -> String {
        var url: String
        if pathStyle || bucket.contains(".") {
            url = "\(base)/\(bucket)"
        } else {
            let schemeEnd = base.range(of: "://")!.upperBound
            url = "\(base[..<schemeEnd])\(bucket).\(base[schemeEnd...])"
        }
        if let key {
            url += "/" + SigV4Signer.uriEncode(key, keepSlash: true)
        } else if !pathStyle && !bucket.contains(".") {
            url += "/"
        }
        return query.isEmpty ? url : url + "?" + query
    }
}
