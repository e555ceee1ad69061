#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real, confined systemd user manager for the integration tests (DESIGN §8).
#
#   manager.sh run-inside CMD [ARG...]
#
# runs CMD with DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR pointing at a private
# dbus-daemon and `systemd --user`, and exits with CMD's status.
#
# Confinement, because a manager started in the root cgroup moves every process of
# the machine into its init.scope: the outer shell creates ktscope-test.PID under
# the unified (and, on a hybrid host, the name=systemd) hierarchy, moves itself
# there and checks it did, then enters new cgroup and mount namespaces whose
# cgroup root is that child. Inside, private cgroupfs mounts, a tmpfs on
# /run/systemd with an empty system/ directory and a private XDG_RUNTIME_DIR.
# Teardown, also on failure or signal: manager and bus stopped by PID, anything
# left in our cgroups (all started by us) killed by PID, the outer shell moved
# back, the cgroups removed depth-first. An outer shell killed by SIGKILL runs no
# trap: the next harness to start does the same for the ktscope-test.PID cgroups
# whose PID is no longer a manager.sh (sweep_stale).
#
# A non-root developer with a working `systemctl --user` gets that manager instead.
# Exit 77 (skip) when the machine cannot do it, except under CI=true (exit 99).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_cg_root=/sys/fs/cgroup

# Which layout: "hybrid" (cgroup2 on unified/ + name=systemd v1) or "unified".
cg_layout() {
	if [ "$(stat -fc %T $kts_cg_root 2>/dev/null)" = cgroup2fs ]; then
		echo unified
	elif [ "$(stat -fc %T $kts_cg_root/unified 2>/dev/null)" = cgroup2fs ] &&
		grep -q '^[0-9]*:name=systemd:' /proc/self/cgroup; then
		echo hybrid
	else
		echo none
	fi
}

find_systemd() {
	local p
	for p in /usr/lib/systemd/systemd /lib/systemd/systemd; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# ---- outer: runs in the host namespaces --------------------------------------
outer_cg_dirs=()

# PIDs of every process in the cgroup subtrees DIR... (host PIDs).
cg_pids() {
	local d
	for d in "$@"; do
		[ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

# cg_remove DIR...: whatever still runs in these subtrees (a harness's, so ours) stopped by
# PID, TERM then KILL after 5 s, then the subtrees removed depth-first (a cgroup whose last
# process just died can be busy briefly). 1 when one is still there.
cg_remove() {
	local pids d i left=0
	pids=$(cg_pids "$@")
	if [ -n "$pids" ]; then
		echo "# manager.sh: stopping leftover processes: $(echo $pids)" >&2
		kill -TERM $pids 2>/dev/null
		for i in $(seq 50); do
			[ -z "$(cg_pids "$@")" ] && break
			sleep 0.1
		done
		pids=$(cg_pids "$@")
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	fi
	for i in $(seq 50); do
		for d in "$@"; do
			[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
		left=0
		for d in "$@"; do [ -d "$d" ] && left=1; done
		[ $left = 0 ] && return 0
		sleep 0.1
	done
	echo "# manager.sh: could not remove $*" >&2
	return 1
}

outer_cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	# Back to where we came from (both hierarchies had us at their root).
	[ "$layout" = hybrid ] && echo $$ >$kts_cg_root/systemd/cgroup.procs 2>/dev/null
	echo $$ >"$cg_unified_root/cgroup.procs" 2>/dev/null
	if ! cg_remove "${outer_cg_dirs[@]}"; then
		[ $rc = 0 ] && rc=99
	fi
	exit $rc
}

# The cgroups of a harness that could not tear down (its outer shell was SIGKILLed: no trap
# runs): ktscope-test.PID whose PID is gone, or is no longer a manager.sh. A live harness's
# are left alone.
sweep_stale() {
	local d name pid dirs roots=("$cg_unified_root")
	[ "$layout" = hybrid ] && roots+=("$kts_cg_root/systemd")
	for name in $(for d in "${roots[@]}"; do ls -d "$d"/ktscope-test.* 2>/dev/null; done |
		sed 's|.*/||' | sort -u); do
		pid=${name#ktscope-test.}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'manager\.sh' && continue
		dirs=()
		for d in "${roots[@]}"; do [ -d "$d/$name" ] && dirs+=("$d/$name"); done
		echo "# manager.sh: removing ${dirs[*]}, left by a harness that is gone (pid $pid)" >&2
		cg_remove "${dirs[@]}"
	done
}

outer() {
	local systemd name
	if [ "${KTS_INSIDE_MANAGER:-}" = 1 ]; then
		exec "$@"
	fi
	if [ "$(id -u)" != 0 ]; then
		case "$(systemctl --user is-system-running 2>/dev/null)" in
		running | degraded)
			export KTS_INSIDE_MANAGER=1
			exec "$@"
			;;
		esac
		kts_skip_all "not root (needed to confine a private systemd --user) and no running" \
			"'systemctl --user' manager"
	fi
	systemd=$(find_systemd) || kts_skip_all "systemd not installed"
	for c in unshare dbus-daemon systemctl busctl mount; do
		command -v $c >/dev/null || kts_skip_all "'$c' not found"
	done
	layout=$(cg_layout)
	case $layout in
	hybrid) cg_unified_root=$kts_cg_root/unified ;;
	unified) cg_unified_root=$kts_cg_root ;;
	*) kts_skip_all "no cgroup2 hierarchy at $kts_cg_root or $kts_cg_root/unified" ;;
	esac
	# The shell must start at the hierarchy roots: the namespace root below is a child of them.
	grep -qx '0::/' /proc/$$/cgroup ||
		kts_skip_all "harness not in the root cgroup ($(grep '^0::' /proc/$$/cgroup))"

	sweep_stale
	name=ktscope-test.$$
	trap outer_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	outer_cg_dirs=("$cg_unified_root/$name")
	[ $layout = hybrid ] && outer_cg_dirs+=("$kts_cg_root/systemd/$name")
	for d in "${outer_cg_dirs[@]}"; do
		mkdir "$d" || { echo "Bail out! cannot create cgroup $d"; exit 99; }
		echo $$ >"$d/cgroup.procs" || { echo "Bail out! cannot move into $d"; exit 99; }
	done
	# Never start a manager unless we really left the root cgroup in every hierarchy.
	grep -qx "0::/$name" /proc/$$/cgroup ||
		{ echo "Bail out! not confined: $(grep '^0::' /proc/$$/cgroup)"; exit 99; }
	if [ $layout = hybrid ]; then
		grep -qx "[0-9]*:name=systemd:/$name" /proc/$$/cgroup ||
			{ echo "Bail out! not confined (name=systemd)"; exit 99; }
	fi
	# In the background so that a signal runs the cleanup trap at once; with job
	# control on, so that the tests do not inherit SIGINT/SIGQUIT ignored (what a
	# non-interactive shell does to its background jobs).
	set -m
	KTS_MGR_LAYOUT=$layout KTS_MGR_SYSTEMD=$systemd \
		unshare --cgroup --mount --propagation private --fork -- \
		bash "$here/manager.sh" __inner "$@" <&0 &
	wait $!
}

# ---- inner: new cgroup + mount namespaces ------------------------------------
mgr_pid=
bus_pid=
mgr_tmp=

stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

inner_cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	stop_pid "$mgr_pid"
	stop_pid "$bus_pid"
	[ -n "$mgr_tmp" ] && rm -rf "$mgr_tmp"
	exit $rc
}

inner() {
	local state i
	# PID 1 lives outside our cgroup namespace, so its path must climb out of our root.
	grep -q '^0::/\.\.' /proc/1/cgroup ||
		{ echo "Bail out! cgroup namespace not confined: $(grep '^0::' /proc/1/cgroup)"; exit 99; }
	trap inner_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	if [ "$KTS_MGR_LAYOUT" = hybrid ]; then
		mount -t tmpfs -o mode=0755 tmpfs $kts_cg_root &&
			mkdir $kts_cg_root/unified $kts_cg_root/systemd &&
			mount -t cgroup2 cgroup2 $kts_cg_root/unified &&
			mount -t cgroup -o none,name=systemd cgroup $kts_cg_root/systemd ||
			{ echo "Bail out! cannot mount private cgroupfs"; exit 99; }
	else
		mount -t cgroup2 cgroup2 $kts_cg_root ||
			{ echo "Bail out! cannot mount private cgroup2"; exit 99; }
	fi
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd && mkdir /run/systemd/system ||
		{ echo "Bail out! cannot mount /run/systemd"; exit 99; }

	mgr_tmp=$(mktemp -d /tmp/ktscope-mgr.XXXXXX) || exit 99
	mkdir -m 0700 "$mgr_tmp/run" "$mgr_tmp/config"
	export XDG_RUNTIME_DIR=$mgr_tmp/run
	export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
	dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork --nopidfile \
		</dev/null >"$mgr_tmp/dbus.log" 2>&1 &
	bus_pid=$!
	kts_wait_until 10 test -S "$XDG_RUNTIME_DIR/bus" ||
		{ echo "Bail out! dbus-daemon did not start"; cat "$mgr_tmp/dbus.log"; exit 99; }
	# The manager reads no unit of the developer's ~/.config; it logs to a file.
	XDG_CONFIG_HOME=$mgr_tmp/config "$KTS_MGR_SYSTEMD" --user \
		</dev/null >"$mgr_tmp/manager.log" 2>&1 &
	mgr_pid=$!
	for i in $(seq 300); do
		state=$(systemctl --user is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
		kill -0 $mgr_pid 2>/dev/null || break
		sleep 0.05
	done
	case $state in
	running | degraded) ;;
	*)
		echo "Bail out! systemd --user did not come up (state '$state')"
		sed 's/^/# /' "$mgr_tmp/manager.log"
		exit 99
		;;
	esac
	export KTS_INSIDE_MANAGER=1 KTS_MANAGER_PID=$mgr_pid KTS_MANAGER_LOG=$mgr_tmp/manager.log
	"$@"
}

case "${1:-}" in
run-inside)
	shift
	[ $# -gt 0 ] || { echo "usage: $0 run-inside CMD [ARG...]" >&2; exit 2; }
	outer "$@"
	;;
__inner)
	shift
	inner "$@"
	;;
*)
	echo "usage: $0 run-inside CMD [ARG...]" >&2
	exit 2
	;;
esac
