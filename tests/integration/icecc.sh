#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# icecream (icecc 1.4) as ktscope's distributed compile engine, against real daemons the
# test starts: `ktscope doctor` finds the scheduler, `ktscope build --icecc` on the fake
# kernel tree sends its compiles to an iceccd outside the build's scope, sizes make -j to
# the planned CPUs plus the slots the scheduler reports (or --remote-jobs), ships the
# toolchain tarball it made once, and falls back to a local build, with one warning, when
# the scheduler or the local daemon is missing.
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
export ICECC_SCHEDULER=127.0.0.1:$P ICECC_LOGFILE=$work/icecc-client.log

B() { "$KTSCOPE" --user build "$@"; }
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
begun_on_remote() { grep -c 'BEGIN: .* server=ktsremote' "$ice/sched.log"; }
remote_done() { grep -c 'Remote compilation completed with exit code 0' "$ice/remote.log"; }
json() {
	"$KTS_PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

kts_plan 2
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

[ $kts_nfail = 0 ] || kts_diag "$(tail -n 5 "$ice/sched.log" "$ice/remote.log")"
exit $((kts_nfail > 0))
