#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A fake kernel.org mirror for tests: serves DIR on 127.0.0.1 only.

Usage: mirror.py DIR
Binds an ephemeral port, prints it on stdout (one line, flushed) and serves until killed.
Files whose content starts with an HTML tag are served as text/html with status 200, the way a
captive portal or a misconfigured mirror answers; everything else is octet-stream, and a missing
file is a plain 404.
"""
import http.server
import os
import sys


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

    def log_message(self, fmt, *args):
        # Keep the test's TAP output clean; errors still reach stderr via send_error.
        pass


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: mirror.py DIR", file=sys.stderr)
        return 2
    os.chdir(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
