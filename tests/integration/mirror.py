#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A fake kernel.org mirror for tests: serves DIR on 127.0.0.1 only.

Usage: mirror.py [--tls CERT KEY] DIR
Binds an ephemeral port, prints it on stdout (one line, flushed) and serves until killed.
Files whose content starts with an HTML tag are served as text/html with status 200, the way a
captive portal or a misconfigured mirror answers; everything else is octet-stream, and a missing
file is a plain 404.

For the HTTP client's tests (tests/unit/test-http.c, tests/integration/https.sh):
  --tls CERT KEY        serve https with that certificate and key (PEM) instead of http
  /_redirect?to=URL     answers 302 with Location: URL (percent-encode URL's own query)
  X-Echo: V             a request carrying this header gets it back in the response
"""
import http.server
import os
import ssl
import sys
import urllib.parse


class Handler(http.server.SimpleHTTPRequestHandler):
    def guess_type(self, path):
        try:
            with open(path, "rb") as f:
                head = f.read(64).lstrip().lower()
        except OSError:
            head = b""
        if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
            return "text/html"
        if path.endswith(".json"):
            return "application/json"
        return "application/octet-stream"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_redirect":
            to = urllib.parse.parse_qs(url.query).get("to", [""])[0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self):
        echo = self.headers.get("X-Echo")
        if echo is not None:
            self.send_header("X-Echo", echo)
        super().end_headers()

    def log_message(self, fmt, *args):
        # Keep the test's TAP output clean; errors still reach stderr via send_error.
        pass


def main():
    args = sys.argv[1:]
    tls = None
    if len(args) == 4 and args[0] == "--tls":
        tls = (os.path.abspath(args[1]), os.path.abspath(args[2]))
        args = args[3:]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print("usage: mirror.py [--tls CERT KEY] DIR", file=sys.stderr)
        return 2
    os.chdir(args[0])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    # The reader stops at the newline; nothing more goes to stdout.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
