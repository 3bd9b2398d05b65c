import DstackAPI
import HTTPTypes
import Hummingbird

/// The web page's sign-in: the user's token in an `HttpOnly; SameSite=Strict` cookie, so
/// the page's script never holds it and other sites' pages never send it. The API takes
/// it as it takes a bearer token, with one more rule against cross-site request forgery:
/// a request that changes something and is authenticated by the cookie alone must carry
/// `X-Dstack-Request` (a custom header, which another origin can only send after a CORS
/// preflight that this server never approves).
enum SessionCookie {
    static let name = "dstack_session"
    static let csrfHeader = HTTPField.Name("X-Dstack-Request")!

    /// `Set-Cookie` for a signed-in session; `Secure` when the server speaks HTTPS.
    static func setting(_ token: String, secure: Bool) -> String {
        "\(name)=\(token); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` that removes the session.
    static func clearing(secure: Bool) -> String {
        "\(name)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : "")
    }

    /// The session token the request's cookies carry, if any.
    static func token(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        return nil
    }

    /// The token a request authenticates with: the bearer header first, else the session
    /// cookie (refused for a change without the custom header).
    static func credential(of request: Request) throws -> String {
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), header.count > 7 else {
                throw APIRequestError.unauthorized("a bearer token is required (Authorization: Bearer TOKEN)")
            }
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        guard let token = token(in: request) else {
            throw APIRequestError.unauthorized("a bearer token is required (Authorization: Bearer TOKEN)")
        }
        if request.method != .get, request.method != .head, request.headers[csrfHeader] == nil {
            throw APIRequestError.forbidden("a change made with the session cookie needs the X-Dstack-Request header (the web page sends it)")
        }
        return token
    }
}
