#!/usr/bin/python3
"""The test instance's only way out: an HTTP forward proxy, bound on the host end of the
instance's veth pair, that forwards GET and HEAD requests for the allowed hosts (Debian's
mirror) and refuses everything else. The instance's apt is configured to use it, the way
an image in a VPC without NAT is given a proxy.

    apt-proxy.py BIND_ADDRESS PORT LOG_FILE ALLOWED_HOST...

Each request is logged as one line: "<status> <method> <url>".
"""
import http.client
import http.server
import socketserver
import sys
import threading
import urllib.parse

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
}
CHUNK = 64 * 1024


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    allowed_hosts: set = set()
    log_file = None
    log_lock = threading.Lock()

    def record(self, status, url):
        with self.log_lock:
            self.log_file.write(f"{status} {self.command} {url}\n")
            self.log_file.flush()

    def log_message(self, format, *args):  # the request log above is enough
        pass

    def refuse(self, status, why):
        body = (why + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status, self.path)

    def do_CONNECT(self):
        self.close_connection = True
        self.refuse(403, "this proxy forwards plain HTTP to Debian's mirror only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_CONNECT

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname not in self.allowed_hosts or url.port not in (None, 80):
            self.refuse(403, f"not allowed: {self.path}")
            return
        target = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = url.hostname
        try:
            upstream = http.client.HTTPConnection(url.hostname, 80, timeout=60)
            upstream.request(self.command, target, headers=headers)
            response = upstream.getresponse()
        except OSError as error:
            self.refuse(502, f"upstream {url.hostname}: {error}")
            return
        try:
            self.send_response_only(response.status, response.reason)
            length = response.getheader("Content-Length")
            no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            if length is None and not no_body:
                # Unknown length (upstream chunked): the end of the body is the end of
                # the connection.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if not no_body:
                while True:
                    data = response.read(CHUNK)
                    if not data:
                        break
                    self.wfile.write(data)
            self.record(response.status, self.path)
        finally:
            upstream.close()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer's own looks the address up in DNS (getfqdn); there is no DNS here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: apt-proxy.py BIND_ADDRESS PORT LOG_FILE ALLOWED_HOST...")
    address, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    Proxy.allowed_hosts = set(sys.argv[4:])
    Proxy.log_file = open(log_path, "a", buffering=1)
    server = Server((address, port), Proxy)
    server.serve_forever()


if __name__ == "__main__":
    main()
