#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A registry that misbehaves on purpose, for tests/integration/registry-client.sh: what the
real docker-registry 2.8 never does. Listens on 127.0.0.1 (a port the kernel picks, printed
on stdout), one behaviour per repository:

  p/pages     tags list of k1..k5 in pages of n=, linked by Link: rel="next"
  p/redirect  the manifest (--manifest, for any tag in --tags); blobs: 307 to --blob-url
              (another origin: the real registry), as registries that keep blobs in an
              object store do
  p/drop      the manifest; blobs: the full Content-Length announced, half the bytes sent,
              then the connection closed
  p/droplater the manifest; the first blob asked for served whole, every later one as p/drop
              (a pull that fails after a blob was written and is being synced)
  p/down      503 with a distribution error body for everything
  p/baddigest the manifest, with a Docker-Content-Digest that is not its digest
  p/nomount   takes pushes, but an upload POST with ?mount= is a 400 (a registry that does
              not ignore a mount without "from")

  registry-fake.py --manifest FILE --tags T1,T2 --blobs DIR --blob-url URL --log FILE

Each request is logged to --log as "METHOD PATH" (and whether an Authorization came).
"""
import argparse
import http.server
import os
import sys
import threading
import urllib.parse

TAGS = ["k5", "k1", "k4", "k2", "k3"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def logged(self):
        with open(self.server.args.log, "a") as f:
            f.write("%s %s%s\n" % (self.command, self.path,
                                   " auth" if self.headers.get("Authorization") else ""))
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        self.logged()
        if not self.path.startswith("/v2/p/nomount/blobs/uploads/"):
            return self.reply(404)
        if "mount=" in self.path:
            return self.reply(400, b'{"errors":[{"code":"UNSUPPORTED","message":"no from"}]}')
        return self.reply(202, b"", [("Location", "/v2/p/nomount/blobs/uploads/u1?_state=x")])

    def do_PUT(self):
        self.logged()
        if self.path.startswith("/v2/p/nomount/"):
            return self.reply(201)
        return self.reply(404)

    def do_GET(self):
        a = self.server.args
        self.logged()
        u = urllib.parse.urlparse(self.path)
        parts = u.path.split("/")  # "", "v2", "p", REPO, KIND, REF
        if len(parts) < 6 or parts[1] != "v2" or parts[2] != "p":
            return self.reply(404)
        repo, kind, ref = parts[3], parts[4], "/".join(parts[5:])
        if repo == "down":
            return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}',
                              [("Content-Type", "application/json")])
        if repo == "pages" and kind == "tags":
            q = urllib.parse.parse_qs(u.query)
            n, last = int(q["n"][0]), q.get("last", [""])[0]
            rest = sorted(t for t in TAGS if t > last)
            page = rest[:n]
            body = ('{"name":"p/pages","tags":[%s]}'
                    % ",".join('"%s"' % t for t in page)).encode()
            h = [("Content-Type", "application/json")]
            if len(rest) > n:
                h.append(("Link", '</v2/p/pages/tags/list?n=%d&last=%s>; rel="next"'
                          % (n, page[-1])))
            return self.reply(200, body, h)
        if kind == "manifests" and ref in a.tags.split(","):
            with open(a.manifest, "rb") as f:
                body = f.read()
            h = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")]
            if repo == "baddigest":
                h.append(("Docker-Content-Digest", "sha256:" + "0" * 64))
            return self.reply(200, body, h)
        if kind == "blobs" and repo == "nomount":
            return self.reply(404)
        if kind == "blobs" and repo == "redirect":
            return self.reply(307, b"", [("Location", a.blob_url + "/" + ref)])
        if kind == "blobs" and repo == "droplater":
            with self.server.lock:
                self.server.blobs_served += 1
                first = self.server.blobs_served == 1
            if first:
                path = os.path.join(a.blobs, ref.replace("sha256:", ""))
                if not os.path.exists(path):
                    return self.reply(404)
                with open(path, "rb") as f:
                    return self.reply(200, f.read())
            repo = "drop"
        if kind == "blobs" and repo == "drop":
            path = os.path.join(a.blobs, ref.replace("sha256:", ""))
            if not os.path.exists(path):
                return self.reply(404)
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}',
                          [("Content-Type", "application/json")])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--manifest", required=True)
    p.add_argument("--tags", required=True)
    p.add_argument("--blobs", required=True)
    p.add_argument("--blob-url", required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    s.args = args
    s.lock = threading.Lock()
    s.blobs_served = 0  # p/droplater
    print(s.server_address[1], flush=True)
    s.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
