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
  /_echo?status=N&header=NAME:VALUE...
                        any method: reads the body the request's Content-Length announces
                        and answers status N (default 200) with those headers and, unless
                        HEAD, a JSON description of the request: method, path, query,
                        content_length, transfer_encoding, expect, content_type,
                        authorization, body_size, body_sha256, body (when under 4 KiB),
                        connection (the number of the TCP connection it came on: 1, 2, ...
                        in the order they were accepted; HTTP/1.1 keeps them alive)
  /_token?want_basic_sha256=H&want_service=S&want_scope=S&kind=K&status=N
                        a bearer-token endpoint: 401 unless the Authorization header is
                        "Basic B64" with sha256(B64) = H (given; no secret in the URL) or
                        absent (not given); 400 unless
                        the service and scope query parameters equal the wanted ones; then
                        {"token": "good-token"} ({"access_token": ...} with kind=access,
                        K's text itself with kind=raw; status N when given)
"""
import hashlib
import http.server
import itertools
import json
import os
import ssl
import sys
import urllib.parse


# One number per accepted connection (a handler serves one connection).
CONNECTIONS = itertools.count(1)


class Handler(http.server.SimpleHTTPRequestHandler):
    # Keep-alive, as real mirrors and registries do: every answer has a Content-Length.
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection_number = next(CONNECTIONS)

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

    def _answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self, url):
        query = urllib.parse.parse_qs(url.query)
        length = self.headers.get("Content-Length")
        body = b""
        if length is not None and not self.headers.get("Transfer-Encoding"):
            body = self.rfile.read(int(length))
        answer = {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "content_length": length,
            "transfer_encoding": self.headers.get("Transfer-Encoding"),
            "expect": self.headers.get("Expect"),
            "content_type": self.headers.get("Content-Type"),
            "authorization": self.headers.get("Authorization"),
            "body_size": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": body.decode("latin-1") if len(body) < 4096 else None,
            "connection": self.connection_number,
        }
        headers = [h.split(":", 1) for h in query.get("header", [])]
        headers = [(n.strip(), v.strip()) for n, v in headers]
        headers.append(("Content-Type", "application/json"))
        status = int(query.get("status", ["200"])[0])
        self._answer(status, json.dumps(answer).encode(), headers)

    def _token(self, url):
        query = urllib.parse.parse_qs(url.query)
        want = query.get("want_basic_sha256", [None])[0]
        auth = self.headers.get("Authorization")
        if want is None:
            ok = auth is None
        else:
            ok = (auth is not None and auth.startswith("Basic ") and
                  hashlib.sha256(auth[6:].encode()).hexdigest() == want)
        if not ok:
            self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                         [("WWW-Authenticate", 'Basic realm="token"')])
            return
        for name in ("service", "scope"):
            if query.get(name, [None])[0] != query.get("want_" + name, [None])[0]:
                self._answer(400, ("wrong %s\n" % name).encode())
                return
        kind = query.get("kind", ["token"])[0]
        if kind == "raw":
            body = query.get("raw", [""])[0].encode()
        elif kind == "access":
            body = b'{"access_token": "good-token", "expires_in": 300}'
        else:
            body = b'{"token": "good-token", "expires_in": 300}'
        status = int(query.get("status", ["200"])[0])
        self._answer(status, body, [("Content-Type", "application/json")])

    def _special(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_echo":
            self._echo(url)
        elif url.path == "/_token":
            self._token(url)
        else:
            self._answer(405, b"method not allowed\n")

    do_PUT = do_POST = do_PATCH = do_DELETE = _special

    def do_HEAD(self):
        if urllib.parse.urlsplit(self.path).path in ("/_echo", "/_token"):
            self._special()
        else:
            super().do_HEAD()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/_echo", "/_token"):
            self._special()
            return
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


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that hangs up mid-request (a test aborting an upload) is no error here.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


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
    server = Server(("127.0.0.1", 0), Handler)
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
