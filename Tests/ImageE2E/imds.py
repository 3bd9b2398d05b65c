#!/usr/bin/python3
"""The instance's metadata service, as EC2's answers an instance (IMDSv2 only): a
session token from PUT /latest/api/token, then the metadata with that token. It runs in
the instance's network namespace, bound on 169.254.169.254:80 there, outside the
instance's root and process namespace.

    imds.py BIND_ADDRESS PORT INSTANCE_ID LOCAL_IPV4 HOSTNAME
"""
import http.server
import secrets
import socketserver
import sys

TOKENS: set = set()
METADATA: dict = {}


class Metadata(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.reply(400, "")
            return
        token = secrets.token_urlsafe(32)
        TOKENS.add(token)
        self.reply(200, token)

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") not in TOKENS:
            self.reply(401, "")  # what EC2 answers a token-less (IMDSv1) request when v2 is required
            return
        prefix = "/latest/meta-data/"
        if self.path == prefix:
            self.reply(200, "\n".join(sorted(METADATA)))
        elif self.path.startswith(prefix) and self.path[len(prefix):] in METADATA:
            self.reply(200, METADATA[self.path[len(prefix):]])
        else:
            self.reply(404, "")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer's own looks the address up in DNS (getfqdn); there is no DNS here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: imds.py BIND_ADDRESS PORT INSTANCE_ID LOCAL_IPV4 HOSTNAME")
    address, port, instance_id, local_ipv4, hostname = sys.argv[1:]
    METADATA.update({"instance-id": instance_id, "local-ipv4": local_ipv4,
                     "hostname": hostname, "local-hostname": hostname})
    Server((address, int(port)), Metadata).serve_forever()


if __name__ == "__main__":
    main()
