#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope build --tarball https://...` against a real https server on 127.0.0.1
# (tests/integration/mirror.py --tls, its own process group, killed at the end) with a
# self-signed certificate made here: the private CA through KTSCOPE_CA_CERT, a redirect
# from https to plain http refused, naming the URL, and download failures as exit 1. Every case ends before a
# systemd manager is needed (no user bus is reachable here), so none is started.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
command -v openssl >/dev/null || kts_skip_all "openssl not found (needed to make a test certificate)"
command -v tar >/dev/null || kts_skip_all "tar not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/ktscope-https-test.XXXXXX")
servers=()
cleanup() {
	local p
	for p in "${servers[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir -p "$KTSCOPE_LOCK_DIR" "$work/www"
unset KTSCOPE_CPU_CAP KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_SCOPE KTSCOPE_CA_CERT
# Nothing here may reach a real manager: a build that got that far stops with exit 4.
export DBUS_SESSION_BUS_ADDRESS=unix:path=$work/no-bus XDG_RUNTIME_DIR=$work/no-runtime

# start_server VAR [--tls CERT KEY]: mirror.py serving $work/www in its own process
# group; VAR = its port.
start_server() {
	local var=$1 port
	shift
	setsid "$KTS_PYTHON" "$here/mirror.py" "$@" "$work/www" >"$work/$var.port" &
	servers+=("$!")
	kts_wait_until 10 test -s "$work/$var.port" || kts_skip_all "mirror.py did not start"
	port=$(head -n1 "$work/$var.port")
	printf -v "$var" '%s' "$port"
}

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -days 2 \
	-keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1 ||
	kts_skip_all "openssl cannot make a self-signed certificate"
cp -r "${KTS_TOP_SRCDIR:-$here/../..}/tests/data/fake-kernel" "$work/linux-6.12.3"
tar -cJf "$work/www/linux-6.12.3.tar.xz" -C "$work" linux-6.12.3
echo '<!DOCTYPE html><html><body>captive portal</body></html>' >"$work/www/portal.tar.xz"
start_server HTTP_PORT
start_server HTTPS_PORT --tls "$work/cert.pem" "$work/key.pem"
http=http://127.0.0.1:$HTTP_PORT
https=https://127.0.0.1:$HTTPS_PORT

B() { "$KTSCOPE" --user build "$@"; }
# re TEXT: TEXT as an extended regular expression that matches it literally.
re() { sed 's/[][\\.*^$?+(){}|]/\\&/g' <<<"$1"; }

kts_plan 5

# The defect: an https download followed a redirect to plain http.
target=$http/linux-6.12.3.tar.xz
url=$https/_redirect?to=$target
KTSCOPE_CA_CERT=$work/cert.pem kts_expect 1 \
	"$(re "refused the redirect from $url to $target")" \
	"an https tarball URL redirected to http: exit 1, the redirect refused, both URLs named" \
	B --tarball "$url"

# The private CA from KTSCOPE_CA_CERT: the download and the unpacking succeed, and
# the build goes on until it needs the (unreachable) manager.
KTSCOPE_CA_CERT=$work/cert.pem kts_expect 4 "cannot reach the systemd user manager" \
	"an https tarball URL with KTSCOPE_CA_CERT is downloaded (exit 4 only for want of a manager)" \
	B --tarball "$https/_redirect?to=$https/linux-6.12.3.tar.xz"

kts_expect 1 "certificate" \
	"without KTSCOPE_CA_CERT the self-signed server is not trusted: exit 1" \
	B --tarball "$https/linux-6.12.3.tar.xz"

KTSCOPE_CA_CERT=$work/no-such.pem kts_expect 1 "$(re "$work/no-such.pem")'.*KTSCOPE_CA_CERT" \
	"an unreadable KTSCOPE_CA_CERT: exit 1 naming the file and the variable" \
	B --tarball "$https/linux-6.12.3.tar.xz"

# A download failure is a failed build (exit 1), not an environment problem (exit 4).
kts_expect 1 "$(re "$http/portal.tar.xz") answered with an HTML page" \
	"a tarball URL answering with an HTML page: exit 1, naming the URL" \
	B --tarball "$http/portal.tar.xz"
