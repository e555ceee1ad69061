#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# README's first command, contrib/quickstart, run twice as root where no systemd user
# manager answers: it says so and starts the confined user manager of the tests
# (tests/integration/manager.sh), installs linux-source-6.12 with apt-get, builds
# Debian's /usr/src/linux-source-6.12.tar.xz with --base tinyconfig in a transient
# scope, lists the cache, and the second run is a cache hit. What it would take from the
# network or for a quarter of an hour is stood in for: apt-get and autoreconf are stubs
# on PATH, the "build of ktscope" copies the built binary, and in a private mount
# namespace /usr/src is a tmpfs holding the fake kernel tree as linux-source-6.12.tar.xz.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
[ "$(id -u)" = 0 ] || kts_skip_all "not root (the quickstart's confined-manager branch is root's)"
for c in unshare mount tar xz make; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found"
done
src=${KTS_TOP_SRCDIR:-$here/../..}

work=$(mktemp -d /tmp/ktscope-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTS_INSIDE_MANAGER
# No manager answers here, whatever the machine has.
export DBUS_SESSION_BUS_ADDRESS=unix:path=$work/no-bus XDG_RUNTIME_DIR=$work/no-runtime

# A copy of the script with the manager it starts; stubs for the network and autotools.
mkdir -p "$work/top/contrib" "$work/top/tests/integration" "$work/bin" "$work/build" "$work/src"
cp "$src/contrib/quickstart" "$work/top/contrib/"
cp "$src/tests/integration/manager.sh" "$src/tests/integration/lib.sh" "$work/top/tests/integration/"
printf '#!/bin/sh\necho "$*" >>%s/apt-get.log\n' "$work" >"$work/bin/apt-get"
printf '#!/bin/sh\nexit 0\n' >"$work/bin/autoreconf"
chmod +x "$work/bin/apt-get" "$work/bin/autoreconf"
printf 'ktscope:\n\tcp %s ktscope\n' "$KTSCOPE" >"$work/build/Makefile"
cp -r "$src/tests/data/fake-kernel" "$work/src/linux-source-6.12"
chmod -R u+w "$work/src"
tar -cJf "$work/linux-source-6.12.tar.xz" -C "$work/src" linux-source-6.12

# quickstart OUT ERR: one run, in a mount namespace where /usr/src has the fake tarball.
quickstart() {
	unshare --mount --propagation private -- bash -c '
		mount -t tmpfs -o mode=0755 tmpfs /usr/src &&
		cp "$1/linux-source-6.12.tar.xz" /usr/src/ || exit 99
		PATH=$1/bin:$PATH KTSCOPE_BUILD_DIR=$1/build exec "$1/top/contrib/quickstart"
	' bash "$work" >"$1" 2>"$2"
}

kts_plan 10

quickstart "$work/q1.out" "$work/q1.err"
rc=$?
kts_check "the quickstart runs to the end (exit 0)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/q1.err")"
kts_check "it says no user manager answers and that it starts the confined one" \
	eval "grep -q 'no systemd user manager answers here' '$work/q1.err' &&
	      grep -q 'starting the confined' '$work/q1.err'"
kts_check "it installs linux-source-6.12 with apt-get" grep -qw 'linux-source-6.12' "$work/apt-get.log"
img=$(grep -m1 '^/.*/bzImage$' "$work/q1.out")
key=$(basename "$(dirname "$img")")
kts_check "it builds the kernel and prints its image path from the cache" \
	test -n "$img" -a "$(dirname "$(dirname "$img")")" = "$KTSCOPE_CACHE_DIR/kernels"
kts_check "the build is Debian's tarball with --base tinyconfig" python3 -c '
import json, sys
m = json.load(open(sys.argv[1] + "/metadata.json"))
assert m["source"]["kind"] == "tarball", m["source"]
assert m["source"]["path"] == "/usr/src/linux-source-6.12.tar.xz", m["source"]
assert m["base"] == "tinyconfig", m["base"]
' "$KTSCOPE_CACHE_DIR/kernels/$key"
kts_check "… configured from tinyconfig (the entry's build.log)" \
	grep -q 'GEN     .config (tinyconfig)' "$KTSCOPE_CACHE_DIR/kernels/$key/build.log"
kts_check "… in a transient scope of the confined manager (ktscope-build-….scope)" \
	grep -qE '^ktscope: unit ktscope-build-[0-9]+-[0-9a-f]+\.scope ' "$work/q1.err"
kts_check "then 'ktscope kernel list' shows the entry" grep -qE "^$key +matches " "$work/q1.out"

quickstart "$work/q2.out" "$work/q2.err"
rc=$?
kts_check "run twice: the second run ends (exit 0) too" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/q2.err")"
kts_check "… and its kernel build is a cache hit on the same entry" \
	grep -q "^ktscope: cached: $key " "$work/q2.err"

kts_done 2>/dev/null || exit $((kts_nfail > 0))
