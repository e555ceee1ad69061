#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A TCP proxy that stalls a transfer half-way, for tests (registry.sh: a registry killed
mid-pull, reached at a point the test can wait for).

Usage: stall-proxy.py UPSTREAM_PORT STALL_AFTER MARKER

Listens on 127.0.0.1 on an ephemeral port, prints the port on stdout (one line, flushed), and
forwards each connection to 127.0.0.1:UPSTREAM_PORT. Once STALL_AFTER bytes have gone from the
upstream to the clients (all connections counted together), it forwards nothing more
upstream-to-client, creates MARKER, and reads and drops what the upstream still sends; when
the upstream closes (the test killed it), it closes the client's connection too. The client
then holds a response cut short, as if the server had died mid-body.
"""
import os
import socket
import sys
import threading

lock = threading.Lock()
sent = 0
stalled = False


def pump_up(client, upstream):
    """client -> upstream, as is."""
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            upstream.sendall(data)
    except OSError:
        pass
    try:
        upstream.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def pump_down(upstream, client, stall_after, marker):
    """upstream -> client until stall_after bytes in all; then drop until the upstream ends."""
    global sent, stalled
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            with lock:
                if not stalled and sent + len(data) >= stall_after:
                    keep = max(0, stall_after - sent)
                    client.sendall(data[:keep])
                    sent += keep
                    stalled = True
                    with open(marker + ".tmp", "w") as f:
                        f.write("%d\n" % sent)
                    os.rename(marker + ".tmp", marker)
                    continue
                if stalled:
                    continue
                sent += len(data)
            client.sendall(data)
    except OSError:
        pass
    # shutdown() first: close() alone would not end a recv() the other thread is blocked in,
    # and the client would never see the connection end.
    for s in (client, upstream):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def main():
    if len(sys.argv) != 4:
        print("usage: stall-proxy.py UPSTREAM_PORT STALL_AFTER MARKER", file=sys.stderr)
        return 2
    upstream_port, stall_after, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    sys.stdout.write("%d\n" % srv.getsockname()[1])
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    while True:
        client, _ = srv.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump_up, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump_down, args=(upstream, client, stall_after, marker),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
