#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# icecream (icecc 1.4) as ktscope's distributed compile engine, against real daemons the
# test starts: `ktscope doctor` finds the scheduler, `ktscope build --icecc` on the fake
# kernel tree sends its compiles to an iceccd outside the build's scope, sizes make -j to
# the planned CPUs plus the slots the scheduler reports (or --remote-jobs), ships the
# toolchain tarball it made once, and falls back to a local build, with one warning, when
# the scheduler or the local daemon is missing; with no scheduler named, it finds one by
# iceccd's broadcast discovery.
#
# The rig, all on loopback, in a network namespace of its own (unshare --net, only lo up):
# iceccd binds all interfaces (its -i option also binds lo again and fails) and every
# daemon broadcasts a discovery packet when it starts; in the namespace "all interfaces"
# is lo, and no packet can leave the machine. Its ports therefore cannot clash with
# another run's. In it:
#   icecc-scheduler -p P                          (P: daemons; P+1: the text interface)
#   iceccd -s 127.0.0.1:P -N ktsremote -m 2 -p D  the "remote" compile server
#   iceccd -s 127.0.0.1:P -N ktslocal -m 0 --no-remote   this machine's daemon: the build's
#                                                 icecc clients talk to it (ICECC_TEST_SOCKET)
# The local daemon takes no job (-m 0), so every compile goes to ktsremote. Two icecream
# test knobs are needed because both daemons are 127.0.0.1: the client builds a job whose
# host is 127.0.0.1 itself unless ICECC_TEST_REMOTEBUILD=1 (client/remote.cpp), and
# the daemons' Unix sockets must differ (ICECC_TEST_SOCKET). icecream gives no job to a
# host whose CPUs are busy (load 1000 of 1000), and this machine is shared: ktsremote
# sees a frozen copy of /proc/stat (a bind mount in its own mount namespace), so its load
# is its memory use only, as on an idle build server. iceccd needs root: it unpacks the
# toolchain and chroots into it (Debian's build keeps CAP_SYS_CHROOT as user icecc).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
for c in icecc iceccd icecc-scheduler icecc-create-env unshare ip git cc; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found (Debian: apt install icecc iproute2)"
done
[ "$(id -u)" = 0 ] || kts_skip_all "iceccd needs root (it chroots into the toolchain)"
id icecc >/dev/null 2>&1 || kts_skip_all "no 'icecc' user (Debian's icecc package makes it)"
kts_reexec_inside_manager "$here/icecc.sh" "$@"
if [ "${KTS_ICECC_NETNS:-}" != 1 ]; then
	exec unshare --net env KTS_ICECC_NETNS=1 bash -c 'ip link set lo up && exec bash "$@"' \
		bash "$here/icecc.sh" "$@"
fi

work=$(mktemp -d /tmp/ktscope-icecc.XXXXXX)
chmod 755 "$work"
ice=$work/ice # the daemons run as user icecc: their logs, sockets and environments
install -d -o icecc -g icecc "$ice"
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_CCACHE \
	DISTCC_HOSTS ICECC_VERSION USE_SCHEDULER FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT

# The namespace is ours alone: any port is free; not icecream's defaults, so the port
# plumbing (ICECC_SCHEDULER=HOST:PORT, the text interface at PORT+1) is exercised.
P=18765 D=20246

# listcs: the scheduler's answer to listcs on its text interface.
listcs() {
	local a
	exec 3<>"/dev/tcp/127.0.0.1/$((P + 1))" || return 1
	printf 'listcs\nquit\n' >&3
	a=$(timeout 5 cat <&3)
	exec 3<&-
	printf '%s\n' "$a"
}

rig_ready() { [ "$(listcs 2>/dev/null | grep -c ' jobs=')" = 2 ]; }

start_rig() {
	cp /proc/stat "$ice/stat.frozen"
	kts_bg icecc-scheduler -p $P -n ktscope-test -l "$ice/sched.log" -vvv \
		</dev/null >/dev/null 2>&1
	sched_pid=$kts_bg_pid
	kts_wait_until 10 listcs >/dev/null 2>&1 || kts_skip_all "icecc-scheduler did not start"
	kts_bg env ICECC_TEST_SOCKET="$ice/remote.sock" \
		unshare --mount --propagation private sh -c \
		'mount --bind "$0" /proc/stat && exec "$@"' "$ice/stat.frozen" \
		iceccd -s 127.0.0.1:$P -p $D -N ktsremote -m 2 -b "$ice/envs-remote" \
		-l "$ice/remote.log" -vvv </dev/null >/dev/null 2>&1
	remote_pid=$kts_bg_pid
	kts_bg env ICECC_TEST_SOCKET="$ice/local.sock" \
		iceccd -s 127.0.0.1:$P --no-remote -m 0 -N ktslocal -b "$ice/envs-local" \
		-l "$ice/local.log" -vvv </dev/null >/dev/null 2>&1
	# the daemons log in within ~6 s (iceccd retries its scheduler every 3 s)
	kts_wait_until 30 rig_ready ||
		kts_skip_all "the icecream daemons did not log in: $(tail -n 3 "$ice"/*.log)"
}

# What the build's icecc clients and ktscope need: the local daemon, the scheduler.
export ICECC_TEST_SOCKET=$ice/local.sock ICECC_TEST_REMOTEBUILD=1
export ICECC_SCHEDULER=127.0.0.1:$P ICECC_DEBUG=debug ICECC_LOGFILE=$work/icecc-client.log

B() { "$KTSCOPE" --user build "$@"; }
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
# make -jN of the last build of tree T (the fake Makefile records MAKEFLAGS)
jobs_of() { grep -oE -- '(^| )-j[0-9]+' "$1/make-flags" | tr -d ' '; }
begun_on_remote() { grep -c 'BEGIN: .* server=ktsremote' "$ice/sched.log"; }
remote_done() { grep -c 'Remote compilation completed with exit code 0' "$ice/remote.log"; }
json() {
	"$KTS_PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

kts_plan 23
start_rig
kts_diag "$(listcs)"
objs=8 # tests/data/fake-kernel's FAKE_KERNEL_OBJECTS

# ---- doctor ----------------------------------------------------------------------------
"$KTSCOPE" --user doctor --json >"$work/doctor.json" 2>/dev/null
kts_check "doctor: icecream scheduler found, 2 servers, ktsremote's 2 slots, the local daemon" \
	test "$(json "$work/doctor.json" '[(c["status"], c["detail"]) for c in d["checks"]
		if c["name"] == "icecream"][0]')" = "('ok', 'icecream scheduler found at 127.0.0.1:$P (from ICECC_SCHEDULER): 2 compile servers, 2 remote slots; local daemon at $ice/local.sock')"
ICECC_SCHEDULER=127.0.0.1:$((P + 10)) "$KTSCOPE" --user doctor >"$work/doctor2.out" 2>&1
kts_check "doctor: a scheduler that does not answer is a warning naming it" \
	grep -q "^! icecream: no icecream scheduler found: scheduler 127.0.0.1:$((P + 10)) .*(from ICECC_SCHEDULER)" \
		"$work/doctor2.out"

# ---- build --icecc ---------------------------------------------------------------------
T=$(kts_fake_tree "$work/tree")
cg_before=$(cg_of $remote_pid)
B --source "$T" --cpu-cap 1 --icecc >"$work/b1.out" 2>"$work/b1.err"
rc=$?
kts_check "build --icecc: exit 0 and an image" test $rc = 0 -a -f "$(tail -n 1 "$work/b1.out")"
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/b1.err")"
kts_check "no fallback warning" test -z "$(grep -i 'building locally' "$work/b1.err")"
kts_check "make -j3: 1 planned CPU + the 2 slots the scheduler reports" \
	test "$(jobs_of "$T")" = -j3
kts_check "all $objs compiles ran on ktsremote (scheduler log: BEGIN ... server=ktsremote)" \
	test "$(begun_on_remote)" = $objs
kts_check "ktsremote's iceccd completed them ($objs x 'Remote compilation completed ... 0')" \
	test "$(remote_done)" = $objs
# The compiles are children of ktsremote's iceccd (its log names their pids), so they ran in
# its cgroup: the test's, never a scope ktscope made. Recorded before and after the build.
kts_check "their cgroup (ktsremote's iceccd's) is not the build's scope, before and after" \
	test -n "$cg_before" -a "$cg_before" = "$(cg_of $remote_pid)" -a \
		-z "$(grep 'ktscope-build-' "/proc/$remote_pid/cgroup")"
tarballs=$(ls "$KTSCOPE_CACHE_DIR"/icecc/*.tar.gz 2>/dev/null)
kts_check "one toolchain tarball under {cache}/icecc, made by this build" \
	test "$(printf '%s\n' "$tarballs" | grep -c .)" = 1 -a -n \
		"$(grep "icecream: packing '.*' for the remote daemons .* into '$tarballs'" "$work/b1.err")"
kts_check "the icecc clients used it (ICECC_VERSION: client log 'env: ... $tarballs')" \
	grep -qF "'$tarballs'" "$ICECC_LOGFILE"
kts_diag "$(grep -E 'remote compile for file|Compile job memory' "$ice/remote.log" | head -n 4)"
key1=$(basename "$(dirname "$(tail -n 1 "$work/b1.out")")")
kts_check "metadata.json: compile.distributed = {icecc, the scheduler, 2 jobs}, as the result line" \
	test "$(json "$KTSCOPE_CACHE_DIR/kernels/$key1/metadata.json" 'd["compile"]["distributed"]')" \
		= "{'engine': 'icecc', 'hosts': '127.0.0.1:$P', 'jobs': 2}" -a \
		-n "$(grep -F "icecc 127.0.0.1:$P (+2 jobs)" "$work/b1.err")"

# ---- --remote-jobs, the tarball reused -------------------------------------------------
stamp=$(stat -c %Y.%i "$tarballs")
B --source "$T" --cpu-cap 1 --icecc --remote-jobs 5 --force --clean >"$work/b2.out" 2>"$work/b2.err"
rc=$?
kts_check "--remote-jobs 5: exit 0, make -j6" \
	test $rc = 0 -a "$(jobs_of "$T")" = -j6
kts_check "the second build reuses the tarball (not packed again, same file)" \
	test -n "$tarballs" -a "$stamp" = "$(stat -c %Y.%i "$tarballs")" -a \
			-z "$(grep packing "$work/b2.err")"
kts_check "its compiles ran on ktsremote too ($((2 * objs)) in all)" \
	test "$(remote_done)" = $((2 * objs))

# ---- with ccache: its misses compile on the cluster (CCACHE_PREFIX=icecc) ---------------
B --source "$T" --cpu-cap 1 --ccache --icecc --force --clean >"$work/b5.out" 2>"$work/b5.err"
rc=$?
kts_check "--ccache --icecc: exit 0, the result line names both" \
	test $rc = 0 -a -n "$(grep -E 'ccache .*icecc 127\.0\.0\.1:'"$P"' \(\+2 jobs\)' "$work/b5.err")"
kts_check "ccache's $objs misses compiled on ktsremote ($((3 * objs)) in all)" \
	test "$(remote_done)" = $((3 * objs))

# ---- fallbacks -------------------------------------------------------------------------
rm -f "$T/fakecc.log"
ICECC_SCHEDULER=127.0.0.1:$((P + 10)) B --source "$T" --cpu-cap 1 --icecc --force --clean \
	>"$work/b3.out" 2>"$work/b3.err"
rc=$?
kts_check "no scheduler: the build is local and succeeds (make -j1)" \
	test $rc = 0 -a "$(jobs_of "$T")" = -j1
kts_check "one warning line names the scheduler and says the build is local" \
	test "$(grep -c "icecream: scheduler 127.0.0.1:$((P + 10)) .*; building locally" \
		"$work/b3.err")" = 1
kts_check "nothing went to ktsremote" test "$(remote_done)" = $((3 * objs))
# Locally, the tree's own compiler (scripts/fakecc) records the build scope's cgroup.
scope_cg=$(sed -n 's/.* cgroup=\([^ ]*\) .*/\1/p' "$T/fakecc.log" 2>/dev/null | sort -u)
kts_check "the local compiles ran in the build's scope, which is not ktsremote's cgroup" \
	test "$(printf '%s\n' "$scope_cg" | grep -c 'ktscope-build-.*\.scope$')" = 1 -a \
		"$scope_cg" != "$(cg_of $remote_pid)"
ICECC_TEST_SOCKET=$work/nosuch.sock B --source "$T" --cpu-cap 1 --icecc --force --clean \
	>"$work/b4.out" 2>"$work/b4.err"
rc=$?
kts_check "no local daemon: local build, the warning names where iceccd was looked for" \
	test $rc = 0 -a -n "$(grep "icecream: no icecream daemon (iceccd) answers ($work/nosuch.sock: .*building locally" "$work/b4.err")"
# ---- no scheduler named: iceccd's broadcast discovery -----------------------------------
# A network of this namespace only (a veth pair: broadcasts to 10.254.0.255 come back to the
# namespace's sockets and reach nothing else), and a second scheduler on icecream's default
# port and network name, which has no compile server.
if ip link add kts0 type veth peer name kts1 2>/dev/null &&
	ip addr add 10.254.0.1/24 broadcast 10.254.0.255 dev kts0 &&
	ip link set kts0 up && ip link set kts1 up; then
	kts_bg icecc-scheduler -l "$ice/sched2.log" -vvv </dev/null >/dev/null 2>&1
	kts_wait_until 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8766' 2>/dev/null
	env -u ICECC_SCHEDULER "$KTSCOPE" --user doctor --json >"$work/doctor3.json" 2>/dev/null
	kts_check "doctor, no scheduler named: found by broadcast as iceccd would (10.254.0.1:8765)" \
		test "$(json "$work/doctor3.json" '[c["detail"] for c in d["checks"]
			if c["name"] == "icecream"][0]')" = "icecream scheduler found at 10.254.0.1:8765 (from broadcast): 0 compile servers, 0 remote slots; local daemon at $ice/local.sock"
	env -u ICECC_SCHEDULER "$KTSCOPE" --user build --source "$T" --cpu-cap 1 --icecc --force \
		>"$work/b6.out" 2>"$work/b6.err"
	kts_check "build --icecc, no scheduler named: the broadcast's scheduler, whose cluster is empty" \
		test -n "$(grep "icecream: scheduler 10.254.0.1:8765 (from broadcast) knows no compile server but this machine; building locally" "$work/b6.err")"
else
	kts_skip "discovery by broadcast" "cannot make a veth pair in the test's network namespace"
	kts_skip "discovery by broadcast (build)" "cannot make a veth pair"
fi
[ $kts_nfail = 0 ] || kts_diag "$(tail -n 5 "$ice/sched.log" "$ice/remote.log" "$work"/b*.err)"
exit $((kts_nfail > 0))
