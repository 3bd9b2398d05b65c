import DstackAPI
import DstackCore
import Foundation
import Hummingbird

/// How the page and `/metrics` are served.
struct WebOptions: Sendable {
    /// `/metrics` without a token (`dstack server --metrics-public`); else an admin's token.
    var metricsPublic = false
    /// The session cookie is `Secure` (the server speaks HTTPS).
    var secureCookie = false
}

extension APIRoutes {
    /// The page (`/`, its script and style: Web/WebPage.swift), sign-in and sign-out, what the page reads
    /// besides the CLI's routes, its live updates, and `/metrics`.
    func addWeb(to routes: RouteList) {
        // The page's files are not API routes: the OpenAPI document leaves them out.
        for asset in WebPage.assets {
            routes.router.on(RouterPath(asset.path), method: .get) { _, _ in WebPage.response(asset) }
        }
        routes.on(.post, APIPaths.session) { request, _ in await signIn(request) }
        routes.on(.delete, APIPaths.session) { _, _ in
            Response(status: .noContent, headers: [.setCookie: SessionCookie.clearing(secure: web.secureCookie)])
        }
        routes.on(.get, APIPaths.overview) { request, _ in
            await respond(request) { caller in try await control.overview(for: caller) }
        }
        routes.on(.get, APIPaths.events) { request, _ in
            await respond(request) { caller in
                let query = request.uri.queryParameters
                let before = try Self.number(query.get("before").map { String($0) }, name: "before")
                let limit = try Self.number(query.get("limit").map { String($0) }, name: "limit", maximum: 1000) ?? 200
                return try await control.events(before: before, limit: limit, for: caller)
            }
        }
        routes.on(.get, APIPaths.changes) { request, _ in await changes(request) }
        routes.on(.get, APIPaths.metrics) { request, _ in await metrics(request) }
    }

    /// Checks the token and answers with the user, setting the session cookie.
    private func signIn(_ request: Request) async -> Response {
        do {
            let body = try await decode(SessionRequest.self, request)
            // A cookie value cannot hold every character; no token dstack makes needs more.
            guard !body.token.isEmpty, body.token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
                  let user = try await BlockingWork.run({ [control] in try control.users.user(token: body.token) }) else {
                throw APIRequestError.unauthorized("the token is not valid")
            }
            return Self.reply(UserInfo(name: user.name, role: user.role == "admin" ? .admin : .user, createdAt: user.createdAt),
                              headers: [.setCookie: SessionCookie.setting(body.token, secure: web.secureCookie),
                                        .cacheControl: "no-store"])
        } catch {
            let (code, sentence) = Self.refusal(error)
            return Self.reply(APIErrorReply(error: sentence), status: HTTPResponse.Status(code: code))
        }
    }

    /// Prometheus's text format; an admin's token unless the server makes it public.
    private func metrics(_ request: Request) async -> Response {
        do {
            if !web.metricsPublic {
                let caller = try await authenticate(request)
                guard caller.isAdmin else {
                    throw APIRequestError.forbidden("this needs an admin token (or dstack server --metrics-public); user '\(caller.name)' is not an admin")
                }
            }
            let text = control.observers.metrics.exposition(try await control.metricsReading())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        } catch {
            let (code, sentence) = Self.refusal(error)
            return Self.reply(APIErrorReply(error: sentence), status: HTTPResponse.Status(code: code))
        }
    }

    /// How long one stream of changes lasts; the browser's EventSource connects again
    /// by itself, and a server shutting down is never held up longer than this.
    static let changeStreamSeconds: TimeInterval = 25

    /// Server-sent events: `change` whenever what the page shows changes (checked twice a
    /// second, on state's change mark, never on heartbeats), a comment now and then to keep
    /// proxies from closing an idle stream.
    private func changes(_ request: Request) async -> Response {
        do {
            _ = try await authenticate(request)
            let control = self.control
            let body = ResponseBody { writer in
                var last = ""
                let started = Date()
                var lastWrite = Date()
                try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
                while Date().timeIntervalSince(started) < Self.changeStreamSeconds {
                    let mark = try await control.changeMark()
                    if mark != last {
                        try await writer.write(ByteBuffer(string: "event: change\ndata: \(last.isEmpty ? "start" : "update")\n\n"))
                        last = mark
                        lastWrite = Date()
                    } else if Date().timeIntervalSince(lastWrite) > 10 {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        lastWrite = Date()
                    }
                    // Returns at once (true) when the server shuts down: the stream ends.
                    if await control.signal.wait("web-changes", timeout: 0.5) { break }
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
        } catch {
            let (code, sentence) = Self.refusal(error)
            return Self.reply(APIErrorReply(error: sentence), status: HTTPResponse.Status(code: code))
        }
    }
}
