#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Environment faults during `ktscope build` on the fake kernel tree (tests/data/fake-kernel),
# against the real confined systemd user manager (manager.sh), one fresh manager per case
# so that a case may kill its manager or its bus:
#   disk     the cache on a small private tmpfs that fills up while the entry is written
#   manager  `systemd --user` killed while make runs in the build's scope
#   run      the same during `ktscope run`
#   reexec   `systemctl --user daemon-reexec` mid-make: not a departure, the build goes on
#   bus      the bus daemon ktscope talks to killed while make runs
#   lockdir  the LLC lock directory deleted while the reservation waits for its holders
# After each: the old entry intact, no entry half-written, no temporary directory, no
# process of the build, no lock held, one clear line on stderr, the documented exit code.
# The cases run as "envfaults.sh __case NAME" inside manager.sh and print PASS/FAIL/DIAG
# lines that kts_run_inside turns into TAP.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export KTS_TOP_SRCDIR=${KTS_TOP_SRCDIR:-$(cd "$here/../.." && pwd)}

# ---- inside the manager: one case --------------------------------------------------------

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
diag() { printf '%s\n' "$*" | sed 's/^/DIAG /'; }
# check DESC CMD...: PASS or FAIL from CMD's status.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# Background holders and builds run in their own process groups (set -m); the EXIT trap
# kills each group, unmounts the private tmpfs and removes the work directory.
case_setup() {
	set -m
	work=$(mktemp -d /tmp/ktscope-envfaults.XXXXXX) || exit 99
	export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
	mkdir "$work/locks" "$work/cache"
	unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
		FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE FAKE_KERNEL_IMAGE_PAD
	bg_pgids=()
	mounted=
	trap case_cleanup EXIT
}

case_cleanup() {
	local p
	for p in "${bg_pgids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$mounted" ] && umount "$mounted"
	rm -rf "$work"
}

B() { "$KTSCOPE" --user build "$@"; }

# new_tree NAME: a committed git work tree of the fake kernel.
new_tree() { kts_fake_tree "$work/$1"; }

locks_free() {
	local f
	for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock "$KTSCOPE_CACHE_DIR"/.locks/*.lock; do
		[ -e "$f" ] || continue
		flock -n -x "$f" true || return 1
	done
}
unit_gone() { [ "$(systemctl --user show -p LoadState --value "$1" 2>/dev/null)" = not-found ]; }
no_tmp_left() { [ -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp" 2>/dev/null)" ]; }
no_build_processes() {
	! pgrep -f "__build-inner $KTSCOPE_CACHE_DIR/" >/dev/null &&
		! pgrep -f "make -C $1" >/dev/null && ! pgrep -f "$1/scripts/fakecc" >/dev/null
}
# entry_sums KEY: a checksum line per file of the entry.
entry_sums() { (cd "$KTSCOPE_CACHE_DIR/kernels/$1" && sha256sum -- *); }
# space_errors FILE: error lines naming the cache's filesystem, the space needed and free
# (one line each); no other error may speak of space or of a write the full disk cut.
space_errors() {
	if grep 'error:' "$1" | grep -v "mounted at '$KTSCOPE_CACHE_DIR'" |
		grep -qiE 'space|cannot (write|copy)'; then
		echo 0
		return
	fi
	grep -cE "error: not enough space .* mounted at '$KTSCOPE_CACHE_DIR' .*: (up to )?[0-9.]+ MiB needed, [0-9.]+ MiB free\$" "$1"
}
# one_error_line FILE: stderr has exactly one "error:" line.
one_error_line() { [ "$(grep -c 'error:' "$1")" = 1 ]; }

# start_slow_build TREE OUT ERR: a build whose make takes a second per object, in its own
# process group; sets bpid, and returns once a compiler has run in the scope.
start_slow_build() {
	FAKE_KERNEL_SLEEP=1 "$KTSCOPE" --user build --source "$1" >"$2" 2>"$3" &
	bpid=$!
	bg_pgids+=($bpid)
	kts_wait_until 30 test -s "$1/fakecc.log"
}

# ---- 1. the cache fills up while the entry is written -------------------------------------
case_disk() {
	local T key old rc
	mount -t tmpfs -o size=4m tmpfs "$KTSCOPE_CACHE_DIR" || { fail "cannot mount a tmpfs"; return; }
	mounted=$KTSCOPE_CACHE_DIR
	T=$(new_tree t)
	B --source "$T" >"$work/b1.out" 2>"$work/b1.err"
	rc=$?
	key=$(basename "$(dirname "$(tail -n 1 "$work/b1.out")")")
	check "a small build is stored on the 4 MiB tmpfs (exit 0)" test $rc = 0 -a -n "$key"
	[ $rc = 0 ] || diag "$(tail -5 "$work/b1.err")"
	old=$(entry_sums "$key")
	# The same key again (--force), its image 8 MiB larger than the filesystem.
	FAKE_KERNEL_IMAGE_PAD=8388608 B --source "$T" --force >"$work/b2.out" 2>"$work/b2.err"
	rc=$?
	diag "stderr: $(cat "$work/b2.err")"
	check "a store that does not fit: exit 1" test $rc = 1
	check "… one error line naming the cache's filesystem, the space needed and the space free" \
		eval "[ \$(space_errors '$work/b2.err') = 1 ]"
	check "the old entry of that key is intact and still a cache hit" \
		eval "[ \"\$(entry_sums '$key')\" = '$old' ] && B --source '$T' 2>&1 >/dev/null |
		      grep -q 'cached: $key'"
	check "no partial entry and no temporary directory is left" \
		eval "[ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels')\" = '$key' ] && no_tmp_left"
	# The image fits, the stripped vmlinux (2.5 MiB of .rodata, which the strip keeps) does
	# not: the filesystem fills up while the entry is being written.
	FAKE_KERNEL_RODATA=2621440 B --source "$T" --force >/dev/null 2>"$work/b3.err"
	rc=$?
	diag "stderr: $(cat "$work/b3.err")"
	check "the filesystem full while the entry is written: exit 1, one line, needed and free" \
		eval "[ $rc = 1 ] && [ \$(space_errors '$work/b3.err') = 1 ] &&
		      grep -q 'stripped vmlinux.*up to [0-9.]* MiB needed' '$work/b3.err'"
	check "… the old entry intact, no partial entry, no temporary directory" \
		eval "[ \"\$(entry_sums '$key')\" = '$old' ] &&
		      [ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels')\" = '$key' ] && no_tmp_left"
	# Another key (a make variable) that does not fit either: the first entry stays.
	FAKE_KERNEL_IMAGE_PAD=8388608 B --source "$T" -- FAKE_OTHER=1 >/dev/null 2>"$work/b4.err"
	rc=$?
	check "another key that does not fit: exit 1, the existing entry intact, nothing left" \
		eval "[ $rc = 1 ] && [ \"\$(entry_sums '$key')\" = '$old' ] &&
		      [ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels')\" = '$key' ] && no_tmp_left"
	# make's output fills the filesystem (build.log is in the stage): one line naming it
	# and what is free; the log is kept (logs/), the entry and the filesystem's name.
	FAKE_KERNEL_NOISE=8388608 B --source "$T" --force >/dev/null 2>"$work/b5.err"
	rc=$?
	diag "stderr: $(cut -c1-300 "$work/b5.err")"
	check "build.log fills the filesystem during make: exit 1, one error line naming it" \
		eval "[ $rc = 1 ] && [ \$(grep -c 'error:' '$work/b5.err') = 2 ] &&
		      grep -qE \"error: cannot write the build log .*No space left on device \\(the filesystem mounted at '$KTSCOPE_CACHE_DIR' has [0-9.]+ MiB free\\)\\$\" '$work/b5.err' &&
		      grep -q 'error: the build of .* failed; full log' '$work/b5.err'"
	check "… the old entry intact, no temporary directory" \
		eval "[ \"\$(entry_sums '$key')\" = '$old' ] && no_tmp_left"
	check "no lock is held afterwards" locks_free
}

# ---- 2./3. the manager or the bus goes away while make runs --------------------------------
# gone_case WHAT PIDS_CMD REGEX: once make runs, kills the processes PIDS_CMD prints (the
# manager or the bus daemons) and checks that the build stops, says so (stderr matches
# REGEX) and leaves nothing.
gone_case() {
	local what=$1 T rc pids
	T=$(new_tree t)
	start_slow_build "$T" "$work/g.out" "$work/g.err" ||
		{ fail "the build did not start: $(cat "$work/g.err")"; return; }
	pids=$($2)
	diag "killing $what: $(echo $pids)"
	[ -n "$pids" ] || { fail "no process of $what found"; return; }
	kill -KILL $pids
	kts_wait_until 60 eval "! kill -0 $bpid 2>/dev/null"
	wait $bpid 2>/dev/null
	rc=$?
	diag "stderr: $(cat "$work/g.err")"
	check "$what killed mid-make: the build stops with exit 1 or 4" \
		eval "[ $rc = 1 ] || [ $rc = 4 ]"
	check "… with one error line saying $what went away" \
		eval "grep -qiE 'error: .*$3' '$work/g.err' && one_error_line '$work/g.err'"
	check "… no process of the build is left" kts_wait_until 5 no_build_processes "$T"
	check "… no lock is held" kts_wait_until 5 locks_free
	check "… nothing is stored and no temporary directory is left" \
		eval "[ -z \"\$(ls -A '$KTSCOPE_CACHE_DIR/kernels' 2>/dev/null)\" ] && no_tmp_left"
	# A manager that lost only its bus is still there (systemctl reaches it on its private
	# socket): ktscope asked it to stop the unit over a new connection.
	if [ "$what" = "the bus" ]; then
		unit=$(sed -n "s/.*unit '\(ktscope-build-[^']*\)'.*/\1/p" "$work/g.err" | head -n 1)
		check "… and the unit ($unit) is gone from the manager" \
			eval "[ -n '$unit' ] && kts_wait_until 5 unit_gone '$unit'"
	fi
}

case_manager() {
	# Its bus daemon may die with it: then the connection's end is what ktscope sees first.
	gone_case "the user manager" "echo $KTS_MANAGER_PID" "manager.*(went away|was lost)"
	kill_orphaned_bus
}

# The bus daemons of this manager: manager.sh's and, once a client connected through the
# manager's dbus.socket (which takes over $XDG_RUNTIME_DIR/bus), dbus.service's. Only
# processes inside our cgroup namespace: other managers' show as "0::/../…".
our_bus_daemons() {
	local p
	for p in $(pgrep -x dbus-daemon); do
		grep -q '^0::/[^.]' "/proc/$p/cgroup" 2>/dev/null && echo "$p"
	done
}

# The manager's dbus.service daemon outlives a killed manager: stop it too (by pid, ours).
kill_orphaned_bus() {
	local p
	for p in $(our_bus_daemons); do
		grep -q '^0::/.*/dbus\.service$' "/proc/$p/cgroup" 2>/dev/null && kill -KILL "$p"
	done
}

case_bus() {
	gone_case "the bus" our_bus_daemons "(bus|connection).*(went away|gone|lost|closed)"
}

# ---- 2b. `ktscope run` whose manager goes away: the command's process group is killed ------
case_run() {
	local rc cmd
	"$KTSCOPE" --user run -- bash -c "echo \$\$ >'$work/cmd.pid'; exec sleep 300" \
		>/dev/null 2>"$work/r.err" &
	bpid=$!
	bg_pgids+=($bpid)
	kts_wait_until 30 test -s "$work/cmd.pid" || { fail "the command did not start"; return; }
	cmd=$(cat "$work/cmd.pid")
	kill -KILL "$KTS_MANAGER_PID"
	kts_wait_until 30 eval "! kill -0 $bpid 2>/dev/null"
	wait $bpid 2>/dev/null
	rc=$?
	diag "stderr: $(cat "$work/r.err")"
	check "run: the manager killed while COMMAND runs: exit 4, one error line saying so" \
		eval "[ $rc = 4 ] && grep -qE 'error: .*manager.*(went away|was lost)' '$work/r.err' &&
		      one_error_line '$work/r.err'"
	check "… COMMAND (pid $cmd) is killed and the LLC locks are free" \
		eval "kts_wait_until 5 eval '! kill -0 $cmd 2>/dev/null' && kts_wait_until 5 locks_free"
	kill_orphaned_bus
}

# ---- 2c. a manager that re-executes itself (a systemd upgrade) has not gone away ------------
case_reexec() {
	local T rc
	T=$(new_tree t)
	FAKE_KERNEL_SLEEP=0.5 "$KTSCOPE" --user build --source "$T" >"$work/x.out" 2>"$work/x.err" &
	bpid=$!
	bg_pgids+=($bpid)
	kts_wait_until 30 test -s "$T/fakecc.log" || { fail "the build did not start"; return; }
	check "systemctl --user daemon-reexec while make runs" systemctl --user daemon-reexec
	wait $bpid
	rc=$?
	diag "stderr: $(cat "$work/x.err")"
	check "… the build goes on and is stored (exit 0, no error)" \
		eval "[ $rc = 0 ] && ! grep -q 'error:' '$work/x.err' && [ -f \"\$(tail -n 1 '$work/x.out')\" ]"
}

# ---- 4. the lock directory deleted while the reservation waits ----------------------------
# lockdir_variant HOW: every LLC lock held by a holder, a build waiting for them, the lock
# directory then removed (HOW=removed), removed and made again (HOW=replaced), or its lock
# files removed (HOW=files). Locks on new files would not exclude the holders: the build
# must stop, not build.
lockdir_variant() {
	local how=$1 T f rc holder what=directory want="lock directory '$KTSCOPE_LOCK_DIR' was $1"
	local label="the lock directory $how"
	[ "$how" = replaced ] && label="the lock directory removed and made again"
	[ "$how" = files ] && what="lock file" label="the lock files removed" \
		want="lock file '$KTSCOPE_LOCK_DIR/ktstr-llc-[0-9]+\.lock' was removed"
	mkdir -p "$KTSCOPE_LOCK_DIR"
	T=$(new_tree "t-$how")
	for f in $("$KTSCOPE" topology --json | python3 -c '
import json, sys
print(" ".join(str(l["index"]) for l in json.load(sys.stdin)["llcs"]))'); do
		: >"$KTSCOPE_LOCK_DIR/ktstr-llc-$f.lock"
	done
	# One holder of every LLC lock, in its own process group (set -m).
	bash -c 'for f; do exec {fd}<"$f"; flock -x $fd; done; echo held; exec sleep 300' \
		holder "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock >"$work/holder.out" &
	holder=$!
	bg_pgids+=($holder)
	kts_wait_until 10 grep -q held "$work/holder.out" || { fail "the holder did not start"; return; }
	"$KTSCOPE" --user build --source "$T" >"$work/w.out" 2>"$work/w.err" &
	bpid=$!
	bg_pgids+=($bpid)
	kts_wait_until 30 grep -q 'waiting for the reservation' "$work/w.err" ||
		{ fail "the build did not wait: $(cat "$work/w.err")"; return; }
	case $how in
	removed) rm -rf "$KTSCOPE_LOCK_DIR" ;;
	replaced) rm -rf "$KTSCOPE_LOCK_DIR" && mkdir "$KTSCOPE_LOCK_DIR" ;;
	files) rm -f "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock ;;
	esac
	if kts_wait_until 10 eval "! kill -0 $bpid 2>/dev/null"; then
		wait $bpid
		rc=$?
		pass "$label while a reservation waits: ktscope ends (does not hang)"
	else
		rc=hung
		fail "$label while a reservation waits: ktscope ends (does not hang)"
	fi
	diag "stderr: $(cat "$work/w.err")"
	check "… exit 4, one error line naming the $what, nothing built without the lock" \
		eval "[ '$rc' = 4 ] && grep -qE \"error: $want\" '$work/w.err' &&
		      one_error_line '$work/w.err' && [ ! -e '$T/fakecc.log' ] && [ ! -s '$work/w.out' ]"
	check "… nothing is left (no temporary directory, no build process)" \
		eval "no_tmp_left && no_build_processes '$T'"
	kill -KILL -- "-$holder" 2>/dev/null
	wait $holder 2>/dev/null
}

case_lockdir() {
	lockdir_variant removed
	lockdir_variant replaced
	lockdir_variant files
}

if [ "${1:-}" = __case ]; then
	kts_find_ktscope
	# These cases kill a manager and bus daemons and mount over the cache: only ever the
	# confined ones of manager.sh (PID 1 outside our cgroup namespace, its manager's pid).
	if ! grep -q '^0::/\.\.' /proc/1/cgroup || [ -z "${KTS_MANAGER_PID:-}" ]; then
		fail "$2: not inside manager.sh's confined manager; refusing to kill anything"
		exit 0
	fi
	case_setup
	"case_$2"
	exit 0
fi

# ---- outside: one manager per case --------------------------------------------------------
kts_find_ktscope
[ "$(id -u)" = 0 ] || kts_skip_all "needs root (a private tmpfs, a manager it may kill)"
for c in mount umount flock pgrep python3; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found"
done
# CASE:N, N the results the case reports.
cases=(disk:11 manager:5 run:2 reexec:2 bus:6 lockdir:9)
n=0
for c in "${cases[@]}"; do n=$((n + ${c#*:})); done
kts_plan $n
for c in "${cases[@]}"; do
	kts_run_inside "${c#*:}" "$here/envfaults.sh" __case "${c%:*}"
done
exit $((kts_nfail > 0))
