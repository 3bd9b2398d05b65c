import DstackProvider
import Foundation

/// A stand-in for a cloud's instance metadata service, for tests of the spot lifecycle
/// on this machine: `dstack local configure --metadata-url http://127.0.0.1:PORT` gives
/// each instance's runner `URL/INSTANCE_ID` as its metadata base, so one stub server
/// can announce a notice to one instance and not to the others.
extension LocalProvider {
    public static let metadataURLSetting = "metadata_url"

    /// The `metadata_url` setting: absent or empty is none; else an http(s) URL.
    public static func metadataURL(_ settings: ProviderSettings) throws -> String? {
        guard let text = settings[metadataURLSetting], !text.isEmpty else { return nil }
        guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
            throw ProviderError.invalidConfiguration(detail: "--metadata-url must be an http:// or https:// URL, not '\(text)'")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}
