import HTTPTypes
import Hummingbird

/// The web page: one HTML document, one script and one style sheet of the project's own,
/// kept in Swift strings (as the OpenAPI document is) so the server binary serves them
/// with no resource bundle, no build step and no Node toolchain. The script reads the
/// same `/api/v1` API as the CLI and puts everything it shows into the page as text
/// (`textContent`), never as HTML.
enum WebPage {
    struct Asset: Sendable {
        var path: String
        var contentType: String
        var text: String
    }

    static let html = Asset(path: "/", contentType: "text/html; charset=utf-8", text: pageHTML)
    static let script = Asset(path: "/app.js", contentType: "text/javascript; charset=utf-8", text: pageScript)
    static let style = Asset(path: "/app.css", contentType: "text/css; charset=utf-8", text: pageStyle)
    static let assets = [html, script, style]

    /// Only this origin's own script, style and API: no inline script or style, no
    /// framing, no plugins, no other origin. A name that slipped into the page as HTML
    /// would still run nothing.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    static func response(_ asset: Asset) -> Response {
        Response(status: .ok, headers: [
            .contentType: asset.contentType,
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            // Small, and changes with the server binary: always revalidated.
            .cacheControl: "no-cache",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: asset.text)))
    }
}
