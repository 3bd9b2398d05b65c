/// The standard proxy variables, read the way curl and most tools read them:
/// lower case first, then upper case. `HTTP_PROXY` in upper case is honoured too,
/// since users set it and only CGI servers have reason to distrust it.
public struct ProxySettings: Sendable, Equatable {
    public var httpProxy: String?
    public var httpsProxy: String?
    public var noProxy: String?

    public init(httpProxy: String? = nil, httpsProxy: String? = nil, noProxy: String? = nil) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    public static func fromEnvironment(_ environment: [String: String]) -> ProxySettings {
        func value(_ names: String...) -> String? {
            for name in names {
                if let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty { return v }
            }
            return nil
        }
        let all = value("all_proxy", "ALL_PROXY")
        return ProxySettings(
            httpProxy: value("http_proxy", "HTTP_PROXY") ?? all,
            httpsProxy: value("https_proxy", "HTTPS_PROXY") ?? all,
            noProxy: value("no_proxy", "NO_PROXY")
        )
    }

    /// The proxy for a URL, or nil for a direct connection. `no_proxy` matching is left
    /// to libcurl, which implements the usual suffix and `*` rules.
    public func proxy(for url: String) -> String? {
        url.lowercased().hasPrefix("https://") ? httpsProxy : httpProxy
    }
}

import Foundation
