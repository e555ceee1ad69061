# shellcheck shell=bash disable=SC2034 # PROBE, rc, out, err are for the checks
# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the guest checks (run by checks/driver, as root, in the guest).
# TAP lines are unnumbered: the driver numbers them across checks.
# Environment from the driver: KTSCOPE, TOPOLOGY (2llc|4llc), KTS_VM_CHECKS.

set -u
KTS_USER=kts
KTS_UID=1000
PROBE=$KTS_VM_CHECKS/probe
_lib_failed=0
# The marker file whose creation ends this check's background commands (release_bg).
_lib_release=/run/kts-release.$$
rm -f "$_lib_release"
_lib_bg=() # PIDs this check started in the background: killed on exit

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; _lib_failed=$((_lib_failed + 1)); }
skip() { echo "ok - $* # SKIP"; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# check DESC CMD...: one result from CMD's status.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# is DESC GOT WANT: equality, with both values in the diagnostics on failure.
is() {
	if [[ $2 == "$3" ]]; then
		ok "$1"
	else
		not_ok "$1"
		diag "got:  '$2'" "want: '$3'"
	fi
}

# like DESC TEXT REGEX
like() {
	if grep -qE -- "$3" <<<"$2"; then
		ok "$1"
	else
		not_ok "$1"
		diag "no match for /$3/ in:" "$2"
	fi
}

# run_capture CMD...: sets rc, out (stdout), err (stderr).
run_capture() {
	local o e
	o=$(mktemp) e=$(mktemp)
	"$@" >"$o" 2>"$e"
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
}

# as_user CMD...: CMD as the lingering test user, with its user manager's bus.
as_user() {
	setpriv --reuid="$KTS_UID" --regid="$KTS_UID" --init-groups --reset-env \
		env XDG_RUNTIME_DIR="/run/user/$KTS_UID" \
		DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$KTS_UID/bus" \
		PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/$KTS_USER "$@"
}

# wait_until SECONDS CMD...: polls CMD every 100 ms.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS >= deadline)) && return 1
		sleep 0.1
	done
}

# placement FIELD: a field of ktscope's "unit U cpus C llcs L nodes N enforcement E" line
# in $err (empty when the line is missing).
placement() {
	sed -nE "s/.*unit [^ ]+ cpus ([^ ]+) llcs ([^ ]+) nodes ([^ ]+) enforcement ([a-z]+).*/\
cpus=\1 llcs=\2 nodes=\3 enforcement=\4/p" <<<"$err" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

# probe_value KEY: a "KEY=VALUE" line of the probe's output in $out.
probe_value() {
	sed -n "s/^$1=//p" <<<"$out" | head -n1
}

# taskset_refused: the probe's taskset onto a CPU outside the plan failed.
taskset_refused() {
	local v
	v=$(probe_value taskset_rc)
	[[ -n $v && $v != 0 ]]
}

# no_ktscope_units: no ktscope scope is loaded in the system manager (or, with
# --user, in the test user's manager): the run cleaned up after itself.
no_ktscope_units() {
	if [[ ${1:-} == --user ]]; then
		[[ -z $(as_user systemctl --user list-units --all --plain --no-legend \
			'ktscope-*.scope' 2>/dev/null) ]]
	else
		[[ -z $(systemctl list-units --all --plain --no-legend 'ktscope-*.scope') ]]
	fi
}

# locks_free: no flock on any ktstr LLC lock file in /tmp (the default lock dir).
locks_free() {
	local f
	for f in /tmp/ktstr-llc-*.lock; do
		[[ -e $f ]] || continue
		file_locked "$f" && return 1
	done
	return 0
}

# user_manager_ready: the lingering user's manager is up and its bus answers.
user_manager_ready() {
	local state
	systemctl is-active -q "user@$KTS_UID.service" && [[ -S /run/user/$KTS_UID/bus ]] || return 1
	state=$(as_user systemctl --user is-system-running 2>/dev/null)
	[[ $state == running || $state == degraded ]]
}

# file_locked FILE: somebody holds a flock on FILE (/proc/locks, by inode).
file_locked() {
	local ino
	ino=$(stat -c %i "$1" 2>/dev/null) || return 1
	grep -qE "FLOCK .*:$ino " /proc/locks
}

# hold_lock FILE MODE: a foreign, ktstr-style holder (flock(1), like any other tool on
# the host) of one LLC lock file until release_bg; MODE is -s or -x.
hold_lock() {
	local file=$1 mode=$2 release
	release=$(release_file)
	# -F: flock becomes the waiting shell (one process, killed by its pid, no orphan)
	flock -F "$mode" "$file" sh -c "while [ ! -e '$release' ]; do sleep 0.1; done" &
	_lib_bg+=($!)
	wait_until 10 file_locked "$file"
}

# release_bg: ends everything hold_lock and the check started in the background
# (commands that wait for "$(release_file)"), and waits for it.
release_bg() {
	local p
	: >"$_lib_release"
	for p in "${_lib_bg[@]}"; do
		wait "$p" 2>/dev/null
	done
	_lib_bg=()
	rm -f "$_lib_release"
}

# release_file: the marker path for a background command to wait for.
release_file() {
	echo "$_lib_release"
}

_lib_exit() {
	local p
	((${#_lib_bg[@]})) || return 0
	: >"$_lib_release"
	sleep 0.3
	for p in "${_lib_bg[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_lib_bg[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -f "$_lib_release"
}
trap _lib_exit EXIT

# done_testing: the check's exit status.
done_testing() {
	exit $((_lib_failed > 0))
}
