#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope build --distcc` against a real distccd on 127.0.0.1, started here OUTSIDE the
# build's scope (its own process group, a free port, --allow 127.0.0.1), and the confined
# systemd user manager (one per run of this script), on the fake kernel tree:
#   - --distcc=127.0.0.1:P/4 builds and stores; make -j is the reserved CPUs + 4; the
#     result line, metadata.json's compile.distributed and `kernel show` name it;
#   - the compiles ran under distccd, not in the scope: distccd's log names each object's
#     compile (COMPILE_OK), and the compiler it ran (the tree's scripts/fakecc, which
#     records its own /proc/self/cgroup into FAKECC_LOG, set in distccd's environment) was
#     in distccd's cgroup, never in the build scope's (which the link, run locally by the
#     same fakecc, records in the object dir's fakecc.log);
#   - a host that does not answer (a closed port): a local build, exit 0, one warning line;
#   - a bad host list, --distcc without hosts, a bad --remote-jobs: exit 2, one line;
#   - DISTCC_HOSTS is --distcc's default; --remote-jobs N overrides the stated slots;
#   - with --ccache, ccache's misses go to distccd (CCACHE_PREFIX), both recorded;
#   - CONFIG_GCC_PLUGINS=y (an extra fragment): the warning that distccd refuses -fplugin.
# distccd drops root to its own user: the files it reads or writes here are world-readable
# (the tree, the compiler) or world-writable (its log, the compiler's record).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
for c in git distcc distccd ccache; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found (Debian: apt install distcc)"
done
kts_reexec_inside_manager "$here/distcc.sh" "$@"

work=$(mktemp -d /tmp/ktscope-distcc.XXXXXX)
chmod 755 "$work"
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS DISTCC_HOSTS \
	FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE FAKECC_LOG KTSCOPE_CCACHE
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT

tree=$(kts_fake_tree "$work/tree") || kts_skip_all "cannot make the fake tree"
chmod -R a+rX "$work/tree"
fakecc=$tree/scripts/fakecc
B() { "$KTSCOPE" --user build --source "$tree" --cpu-cap 1 --force "$@" -- CC="$fakecc"; }
# meta PYEXPR: PYEXPR's value (m = the newest entry's metadata.json)
meta() {
	"$KTS_PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$(dirname "$(tail -n 1 "$work/last.out")")/metadata.json" "$1"
}
# run NAME ARGS...: B ARGS with stdout/stderr in $work/NAME.{out,err} (and last.*); rc.
run() {
	local name=$1
	shift
	B "$@" >"$work/$name.out" 2>"$work/$name.err"
	rc=$?
	cp "$work/$name.out" "$work/last.out"
}
warnings() { grep -c 'warning' "$1" || true; }

# ---- the daemon: outside the scope, on a free loopback port, its own process group ----
port=$(kts_free_port)
closed=$(kts_free_port)
: >"$work/distccd.log" && : >"$work/remote.log" && chmod 666 "$work/distccd.log" "$work/remote.log"
# --enable-tcp-insecure: distccd 3.3+ runs only compilers masqueraded in /usr/lib/distcc;
# the fake tree's recording compiler is not one (loopback only, --allow 127.0.0.1).
FAKECC_LOG=$work/remote.log kts_bg distccd --daemon --no-detach --listen 127.0.0.1 \
	--port "$port" --allow 127.0.0.1 --log-file "$work/distccd.log" --verbose \
	--enable-tcp-insecure 2>"$work/distccd.err"
distccd_pid=$kts_bg_pid
kts_wait_until 10 grep -q 'listening on' "$work/distccd.log" ||
	kts_wait_until 5 "$KTS_PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" ||
	kts_skip_all "distccd did not start: $(tail -n 3 "$work/distccd.log")"
distccd_cg=$(sed -n 's/^0:://p' "/proc/$distccd_pid/cgroup")

kts_plan 20

# ---- 1. a distributed build ----------------------------------------------------------
run d1 --distcc="127.0.0.1:$port/4"
kts_check "--distcc=127.0.0.1:$port/4 builds and stores (exit 0, an image path)" \
	eval '[ $rc = 0 ] && [ -f "$(tail -n 1 "$work/d1.out")" ]'
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/d1.err")"
kts_check "make -j = the 1 reserved CPU + the host's 4 slots (MAKEFLAGS has -j5)" \
	grep -qE '(^| )-j5( |$)' "$tree/make-flags"
kts_check "the result line names the engine, the hosts and the remote jobs" \
	grep -qF "distcc 127.0.0.1:$port/4 (+4 jobs)" "$work/d1.err"
kts_check "no warning on the way" test "$(warnings "$work/d1.err")" = 0
n_ok=$(grep -cE "COMPILE_OK .* $fakecc [^ ]*fake\.c\$" "$work/distccd.log")
kts_check "distccd compiled the 8 objects (its log: COMPILE_OK for each)" test "$n_ok" = 8
[ "$n_ok" = 8 ] || kts_diag "$(grep -E 'COMPILE_|ERROR|warning' "$work/distccd.log" | tail -n 10)"
scope_cg=$(sed -n 's/.*cgroup=\([^ ]*\) .*/\1/p' "$tree/fakecc.log" | tail -n 1)
kts_check "the link ran locally, in the build's scope ($scope_cg)" \
	eval '[[ $scope_cg == *.scope ]]'
remote_cgs=$(sed -n 's/.*cgroup=\([^ ]*\) .*/\1/p' "$work/remote.log" | sort -u)
kts_check "the 8 remote compilers ran in distccd's cgroup, not in the scope" \
	eval '[ "$(wc -l <"$work/remote.log")" = 8 ] && [ "$remote_cgs" = "$distccd_cg" ] &&
		[ "$remote_cgs" != "$scope_cg" ]'
kts_check "metadata.json: compile.distributed = {engine distcc, the hosts, jobs 4}" \
	test "$(meta 'm["compile"]["distributed"]')" = \
	"{'engine': 'distcc', 'hosts': '127.0.0.1:$port/4', 'jobs': 4}"
key=$(basename "$(dirname "$(tail -n 1 "$work/d1.out")")")
"$KTSCOPE" kernel show "$key" >"$work/show.out" 2>&1
kts_check "kernel show prints the distributed compile" \
	grep -qF "distcc on 127.0.0.1:$port/4, 4 remote jobs" "$work/show.out"

# ---- 2. DISTCC_HOSTS and --remote-jobs ------------------------------------------------
DISTCC_HOSTS="127.0.0.1:$port/4" run d2 --distcc --remote-jobs 2
kts_check "DISTCC_HOSTS is --distcc's default; --remote-jobs 2 makes it -j3" \
	eval '[ $rc = 0 ] && grep -qE "(^| )-j3( |$)" "$tree/make-flags" &&
		grep -qF "(+2 jobs)" "$work/d2.err"'

# ---- 2b. ccache in front: its misses go to distccd (CCACHE_PREFIX) ---------------------
before=$(grep -c COMPILE_OK "$work/distccd.log")
CCACHE_CONFIGPATH=$work/ccache.conf run c1 --distcc="127.0.0.1:$port/4" --ccache="$work/ccache" --clean
after=$(grep -c COMPILE_OK "$work/distccd.log")
kts_check "--ccache --distcc: ccache's 8 misses compiled on distccd; both in the result line" \
	eval '[ $rc = 0 ] && [ $((after - before)) = 8 ] && grep -q "; ccache 0/8 hits (0%).*; distcc 127.0.0.1:$port/4 (+4 jobs)" "$work/c1.err"'
[ $rc = 0 ] || kts_diag "$(tail -n 10 "$work/c1.err")"
kts_check "... and metadata.json has both: compile.ccache and compile.distributed" \
	test "$(meta '(m["compile"]["ccache"]["misses"], m["compile"]["distributed"]["engine"])')" = \
	"(8, 'distcc')"

# ---- 3. a host that does not answer: a local build, one warning line ------------------
run f1 --distcc="127.0.0.1:$closed/4"
kts_check "a closed port: exit 0, built locally (make -j1)" \
	eval '[ $rc = 0 ] && grep -qE "(^| )-j1( |$)" "$tree/make-flags"'
kts_check "... with one warning line naming the host and the reason" \
	eval '[ "$(warnings "$work/f1.err")" = 1 ] && grep -qF "distcc: no host answers (127.0.0.1:$closed: connection refused); building locally" "$work/f1.err"'
kts_check "... and metadata.json's compile.distributed is null" \
	test "$(meta 'm["compile"]["distributed"]')" = None

# ---- 4. bad requests: exit 2, one line --------------------------------------------------
run b1 --distcc="127.0.0.1:$port/0"
kts_check "a bad host list: exit 2, one line naming the entry" \
	eval '[ $rc = 2 ] && [ "$(wc -l <"$work/b1.err")" = 1 ] && grep -qF "'\''127.0.0.1:$port/0'\''" "$work/b1.err"'
run b2 --distcc
kts_check "--distcc without a value or DISTCC_HOSTS: exit 2, one line" \
	eval '[ $rc = 2 ] && [ "$(wc -l <"$work/b2.err")" = 1 ] && grep -q DISTCC_HOSTS "$work/b2.err"'
run b3 --distcc="127.0.0.1:$port/4" --remote-jobs 1025
kts_check "--remote-jobs 1025: exit 2, one line" \
	eval '[ $rc = 2 ] && [ "$(wc -l <"$work/b3.err")" = 1 ] && grep -q "1-1024" "$work/b3.err"'
run b4 --distcc "127.0.0.1:$port/4"
kts_check "--distcc HOSTS (a space, not '='): exit 2, one line saying --distcc=HOSTS" \
	eval '[ $rc = 2 ] && [ "$(wc -l <"$work/b4.err")" = 1 ] &&
		grep -qF -- "--distcc='\''127.0.0.1:$port/4'\''" "$work/b4.err"'

# ---- 5. GCC plugins -------------------------------------------------------------------
printf 'CONFIG_GCC_PLUGINS=y\n' >"$work/plugins.config"
run p1 --distcc="127.0.0.1:$port/4" --extra-kconfig "$work/plugins.config"
kts_check "CONFIG_GCC_PLUGINS=y with distcc: built, with the warning that distccd refuses -fplugin" \
	eval '[ $rc = 0 ] && grep -q "CONFIG_GCC_PLUGINS=y: distccd refuses -fplugin" "$work/p1.err"'
[ $rc = 0 ] || kts_diag "$(tail -n 10 "$work/p1.err")"
[ "$kts_nfail" = 0 ]
