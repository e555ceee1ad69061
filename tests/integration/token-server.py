#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A token server for the registry's bearer-token flow, for tests (registry-lib.sh).

Usage: token-server.py --key KEY.pem --cert CERT.pem --issuer ISSUER --service SERVICE
                       --users FILE [--kid] [--log FILE]

Binds 127.0.0.1 on an ephemeral port, prints the port on stdout (one line, flushed) and
serves GET /token?service=SERVICE&scope=repository:NAME:pull,push[&scope=...] until killed,
the way the CNCF distribution registry's token auth expects (docs/spec/auth/token.md):

  - Basic credentials are required and checked against FILE ("user:password" lines):
    none or wrong -> 401 with WWW-Authenticate: Basic, and {"errors": [...]}.
  - A service other than SERVICE -> 400.
  - Otherwise a JWT signed with KEY (ES256 for an EC key, RS256 for RSA): iss ISSUER, sub the
    user, aud SERVICE, exp 5 minutes on, and "access" granting every requested scope
    (the user is allowed everything). The answer is {"token", "access_token", "expires_in",
    "issued_at"}.
  - The JWT header names the key as the registry's auth.token.rootcertbundle lets it find it:
    by default "x5c" (the certificate CERT, which the bundle holds, so the chain is that one
    self-signed certificate); with --kid, "kid" in libtrust's form instead (the first 240
    bits of SHA-256 over the key's DER SubjectPublicKeyInfo, base32, groups of four joined
    by ':'), which the registry derives from each certificate of its bundle.

Each request is logged to --log as one line: "user=U scope=S status=N" (never a password).
Needs python3-jwt and python3-cryptography: run it with /usr/bin/python3.
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def libtrust_kid(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args):
        super().__init__(("127.0.0.1", 0), Handler)
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            self.cert = x509.load_pem_x509_certificate(f.read())
        self.alg = "ES256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS256"
        if args.kid:
            self.jwt_header = {"kid": libtrust_kid(self.cert.public_key())}
        else:
            der = self.cert.public_bytes(serialization.Encoding.DER)
            self.jwt_header = {"x5c": [base64.b64encode(der).decode()]}
        self.users = {}
        with open(args.users) as f:
            for line in f:
                user, sep, password = line.rstrip("\n").partition(":")
                if sep:
                    self.users[user] = password
        self.issuer = args.issuer
        self.service = args.service
        self.log_path = args.log
        self.log_lock = threading.Lock()

    def log(self, line):
        if not self.log_path:
            return
        with self.log_lock, open(self.log_path, "a") as f:
            f.write(line + "\n")


def parse_scope(scope):
    """"repository:NAME:pull,push" -> an access entry; NAME may hold ':' (a port)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def user(self):
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            user, sep, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        known = self.server.users.get(user)
        if not sep or known is None or not secrets.compare_digest(known, password):
            return None
        return user

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        scopes = q.get("scope", [])
        if url.path != "/token":
            self.server.log("path=%s status=404" % url.path)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        user = self.user()
        if user is None:
            self.server.log("user=- scope=%s status=401" % " ".join(scopes))
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                "message": "authentication required"}]},
                              [("WWW-Authenticate", 'Basic realm="ktscope-test-token"')])
        if q.get("service", [None])[0] != self.server.service:
            self.server.log("user=%s scope=%s status=400" % (user, " ".join(scopes)))
            return self.reply(400, {"errors": [{"code": "UNSUPPORTED",
                                                "message": "unknown service"}]})
        access = [a for a in (parse_scope(s) for s in scopes) if a]
        now = int(time.time())
        claims = {"iss": self.server.issuer, "sub": user, "aud": self.server.service,
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        token = jwt.encode(claims, self.server.key, algorithm=self.server.alg,
                           headers=self.server.jwt_header)
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        self.server.log("user=%s scope=%s status=200" % (user, " ".join(scopes)))
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                         "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ")})

    def log_message(self, fmt, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--kid", action="store_true")
    p.add_argument("--log")
    args = p.parse_args()
    server = Server(args)
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
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
