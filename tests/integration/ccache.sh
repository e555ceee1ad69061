#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope build --ccache` with the real ccache, on the fake kernel tree, against the
# confined systemd user manager (ktscope-build(1), CCACHE): the cache key is the same with
# and without ccache; a second build of the same inputs from a tree at another path is all
# hits, counted in metadata.json, the result line and `kernel show`, and its objects' debug
# info names neither tree; the ccache directory is --ccache=DIR, else CCACHE_DIR, else
# $KTSCOPE_CACHE_DIR/ccache; bad values exit 2 naming the value; no ccache in PATH exits 4;
# remote storage on a redis-server on 127.0.0.1 (own process group, a password): the second
# of two builds with empty local ccache directories takes its hits from it, and the
# password is in no output, metadata, build log or file of the cache.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
for c in git ccache redis-server readelf; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found"
done
kts_reexec_inside_manager "$here/ccache.sh" "$@"

work=$(mktemp -d /tmp/ktscope-ccache.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_CCACHE \
	CCACHE_DIR CCACHE_REMOTE_STORAGE CCACHE_BASEDIR CCACHE_PREFIX CCACHE_DISABLE \
	FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
# ccache's own configuration must not come from this machine's user.
export CCACHE_CONFIGPATH=$work/ccache.conf
: >"$CCACHE_CONFIGPATH"
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT

B() { "$KTSCOPE" --user build "$@"; }
key_of() { basename "$(dirname "$(tail -n 1 "$1")")"; }
meta() {
	"$KTS_PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$KTSCOPE_CACHE_DIR/kernels/$1/metadata.json" "$2"
}
# run STEM CMD...: CMD's stdout/stderr in STEM.out/.err, its status in rc.
run() {
	local stem=$1
	shift
	"$@" >"$stem.out" 2>"$stem.err"
	rc=$?
	[ $rc = 0 ] || kts_diag "$* exited $rc: $(tail -n 8 "$stem.err")"
}
# one_error_line FILE: exactly one line says "ktscope: ..." at error level (and nothing
# else but notices).
error_lines() { grep -vc '^ktscope: \(KTSCOPE_SCOPE\|unit \)' "$1"; }

kts_plan 32

A=$(kts_fake_tree "$work/a")
git clone -q "$A" "$work/b"
Bt=$work/b

# ---- 1. the key does not change with ccache ---------------------------------------------------
run "$work/k0" B "$A"
key=$(key_of "$work/k0.out")
kts_check "a build without --ccache stores an entry" test $rc = 0
run "$work/k1" B "$A" --ccache
kts_check "the same build with --ccache is a cache hit on that key" \
	eval "[ $rc = 0 ] && grep -q 'cached: $key' '$work/k1.err'"
run "$work/k2" B "$A" --ccache --force --clean
kts_check "--force --ccache rebuilds the same key" \
	eval "[ $rc = 0 ] && grep -q 'built and cached $key' '$work/k2.err'"
kts_check "… its compiles all went through ccache: 8 objects, 0/8 hits (an empty cache)" \
	grep -q "built and cached $key .*; ccache 0/8 hits (0%)" "$work/k2.err"
kts_check "… into the default directory \$KTSCOPE_CACHE_DIR/ccache" \
	test "$(meta "$key" 'm["compile"]["ccache"]["dir"]')" = "$KTSCOPE_CACHE_DIR/ccache"
kts_check "… the link (compile and link in one) counted uncacheable, no errors" \
	test "$(meta "$key" '(m["compile"]["ccache"]["uncacheable"], m["compile"]["ccache"]["errors"])')" = "(1, 0)"

# ---- 2. a tree at another path: all hits, correct debug info -----------------------------------
run "$work/b1" B "$Bt" --ccache --force --json-events
kts_check "the clone at another path builds the same key" \
	test "$(grep '"event":"result"' "$work/b1.out" | "$KTS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["key"])')" = "$key"
kts_check "… every compile is a hit: metadata.json compile.ccache hits 8, misses 0" \
	test "$(meta "$key" '(m["compile"]["ccache"]["hits"], m["compile"]["ccache"]["direct_hits"], m["compile"]["ccache"]["misses"])')" = "(8, 8, 0)"
kts_check "… and the result event carries the numbers" \
	grep -q '"ccache":{"hits":8,"misses":0,' "$work/b1.out"
run "$work/b2" B "$Bt" --ccache --force --clean
kts_check "the result line says 'ccache 8/8 hits (100%)'" \
	grep -q "built and cached $key .*; ccache 8/8 hits (100%)\$" "$work/b2.err"
kts_check "the hit objects' debug info names neither tree (comp_dir '.')" \
	eval "! strings -a '$Bt/fake/obj1.o' | grep -q -e '$work/a' -e '$Bt' &&
	      readelf --debug-dump=info '$Bt/fake/obj1.o' | grep -q 'DW_AT_comp_dir.*: \\.\$'"
run "$work/show" "$KTSCOPE" kernel show "$key"
kts_check "kernel show prints the compile line" \
	grep -q "^compile: *ccache [0-9.]*, 8/8 hits (100%), 1 uncacheable, dir $KTSCOPE_CACHE_DIR/ccache\$" \
	"$work/show.out"
run "$work/showj" "$KTSCOPE" kernel show --json "$key"
kts_check "kernel show --json includes compile" \
	test "$("$KTS_PYTHON" -c 'import json,sys; j=json.load(sys.stdin); print(j["compile"]["ccache"]["hits"], j["compile"]["distributed"])' <"$work/showj.out")" = "8 None"

# Out of tree (O=): Kbuild names the sources by absolute paths; two builds with the same
# layout (tree and build directory side by side) at different places share objects.
mkdir "$work/o1" "$work/o2"
git clone -q "$A" "$work/o1/src" && git clone -q "$A" "$work/o2/src"
run "$work/o1" B "$work/o1/src" --build-dir "$work/o1/build" --ccache --force
run "$work/o2" B "$work/o2/src" --build-dir "$work/o2/build" --ccache --force
kts_check "--build-dir: a second tree and build directory side by side elsewhere is all hits" \
	eval "[ $rc = 0 ] && grep -q '; ccache 8/8 hits (100%)\$' '$work/o2.err'"
kts_check "… and its objects' debug info names neither place" \
	eval "! strings -a '$work/o2/build/fake/obj1.o' | grep -q -e '$work/o1' -e '$work/o2'"

# ---- 3. which directory --------------------------------------------------------------------------
run "$work/d1" B "$A" --force --clean --ccache="$work/ccdir"
kts_check "--ccache=DIR: the build's objects are in DIR, metadata names it" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" 'm["compile"]["ccache"]["dir"]')' = '$work/ccdir' ] &&
	      [ -n \"\$(find '$work/ccdir' -name '*R' -print -quit)\" ]"
CCACHE_DIR=$work/envdir run "$work/d2" B "$A" --force --clean --ccache
kts_check "CCACHE_DIR is respected" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" 'm["compile"]["ccache"]["dir"]')' = '$work/envdir' ] &&
	      [ -n \"\$(find '$work/envdir' -name '*R' -print -quit)\" ]"
echo "cache_dir = $work/confdir" >"$CCACHE_CONFIGPATH"
run "$work/d3" B "$A" --force --clean --ccache
kts_check "ccache.conf's cache_dir is respected" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" 'm["compile"]["ccache"]["dir"]')' = '$work/confdir' ]"
: >"$CCACHE_CONFIGPATH"
KTSCOPE_CCACHE=$work/kdir run "$work/d4" B "$A" --force --clean
kts_check "KTSCOPE_CCACHE=DIR turns ccache on with DIR" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" 'm["compile"]["ccache"]["dir"]')' = '$work/kdir' ]"
KTSCOPE_CCACHE=0 run "$work/d5" B "$A" --force --clean
kts_check "KTSCOPE_CCACHE=0: no ccache (compile.ccache null)" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" 'm["compile"]["ccache"]')' = None ]"

# ---- 4. bad values: exit 2, one line naming the value, nothing stored ---------------------------
before=$(meta "$key" 'm["built_at"]')
KTSCOPE_CCACHE=maybe kts_expect 2 "invalid KTSCOPE_CCACHE 'maybe'" \
	"KTSCOPE_CCACHE=maybe: exit 2 naming the value" B "$A" --force
kts_check "… in one line" test "$(error_lines /dev/stdin <<<"$err")" = 1
kts_expect 2 "invalid --ccache-remote 'ftp://h/x'" \
	"--ccache-remote with an unknown scheme: exit 2 naming the URL without its password" \
	B "$A" --force --ccache-remote "ftp://u:hunter2@h/x"
kts_check "… in one line, without the password" \
	eval "[ $(error_lines /dev/stdin <<<"$err") = 1 ] && ! grep -q hunter2 <<<'$err'"
kts_expect 2 "invalid --ccache-remote 'https://h/c'.*no https storage" \
	"--ccache-remote https:// (ccache 4.7 has no HTTPS storage): exit 2" \
	B "$A" --force --ccache-remote "https://u:hunter2@h/c"
kts_expect 2 "invalid --ccache ''" "--ccache= (an empty directory): exit 2" B "$A" --force --ccache=
kts_check "nothing was stored by the refused builds" test "$(meta "$key" 'm["built_at"]')" = "$before"

# ---- 5. ccache missing -------------------------------------------------------------------------
mkdir "$work/nocc"
for f in /usr/bin/* /bin/*; do
	n=${f##*/}
	[ "$n" = ccache ] || [ -e "$work/nocc/$n" ] || ln -s "$f" "$work/nocc/$n"
done
PATH=$work/nocc kts_expect 4 "no 'ccache' in PATH; install it" \
	"--ccache without ccache in PATH: exit 4 with an install hint" B "$A" --force --ccache
kts_check "… in one line" test "$(error_lines /dev/stdin <<<"$err")" = 1

# ---- 6. remote storage on redis ----------------------------------------------------------------
secret=kts-$RANDOM-$RANDOM-pw
port=$("$KTS_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir "$work/redis"
kts_bg redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--dir "$work/redis" --requirepass "$secret" >"$work/redis/log" 2>&1
kts_wait_until 10 eval "redis-cli -h 127.0.0.1 -p $port --no-auth-warning -a '$secret' ping 2>/dev/null | grep -q PONG" ||
	kts_diag "redis-server did not answer: $(tail -n 5 "$work/redis/log")"
url="redis://$secret@127.0.0.1:$port"
run "$work/r1" B "$A" --force --clean --ccache="$work/r1dir" --ccache-remote "$url"
got=$(meta "$key" 'm["compile"]["ccache"]["misses"], m["compile"]["ccache"]["errors"], m["compile"]["ccache"]["remote"]')
kts_check "a build with --ccache-remote redis://PASSWORD@127.0.0.1:PORT and an empty local cache: 8 misses, no errors" \
	test "$rc $got" = "0 (8, 0, 'redis://127.0.0.1:$port')"
[ "$rc $got" = "0 (8, 0, 'redis://127.0.0.1:$port')" ] || kts_diag "got: $rc $got"
run "$work/r2" B "$Bt" --force --clean --ccache="$work/r2dir" --ccache-remote "$url"
kts_check "the second build, another tree and another empty local cache: 8 hits, all remote" \
	eval "[ $rc = 0 ] && [ '$(meta "$key" '(m["compile"]["ccache"]["hits"], m["compile"]["ccache"]["remote_hits"])')' = '(8, 8)' ] &&
	      grep -q '; ccache 8/8 hits (100%), 8 remote' '$work/r2.err'"
kts_check "the password is in no output, metadata, build log or file of the cache or ccache dirs" \
	eval "! grep -rqa -- '$secret' '$work'/r1.* '$work'/r2.* '$KTSCOPE_CACHE_DIR' '$work/r1dir' '$work/r2dir'"
