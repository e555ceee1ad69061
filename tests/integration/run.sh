#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope run` against a real systemd user manager (confined, see manager.sh):
# the scope's properties read back over the bus, COMMAND's cgroup and affinity,
# exit statuses, signals, parent death, lock contention, name clashes, the order
# "unit gone, then locks free", and COMMAND on a real pseudo-terminal (reads it,
# Ctrl-C, Ctrl-Z and fg). Lock files live in a private directory.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_reexec_inside_manager "$here/run.sh" "$@"
kts_find_python

# Background jobs in their own process groups, and with SIGINT not ignored.
set -m

work=$(mktemp -d /tmp/ktscope-run-test.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS
bg_pids=()

cleanup() {
	local p
	# set -m: each background job is its own process group, killed whole
	for p in "${bg_pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

K() { "$KTSCOPE" --user run "$@"; }

# start_bg NAME ARGS...: `ktscope --user run ARGS` in the background; pid in $NAME_pid,
# stderr in $work/NAME.err.
start_bg() {
	local name=$1
	shift
	"$KTSCOPE" --user run "$@" 2>"$work/$name.err" &
	eval "${name}_pid=$!"
	bg_pids+=($!)
}

# Field of the placement line "unit U cpus C llcs L nodes N enforcement E" in FILE.
placement() {
	sed -n "s/^ktscope: unit \([^ ]*\) cpus \([^ ]*\) llcs \([^ ]*\) nodes \([^ ]*\) enforcement \(.*\)$/\\$2/p" "$1" | head -n 1
}

unit_state() { systemctl --user show -p LoadState --value "$1" 2>/dev/null; }
# (an empty name is never gone: systemctl shows nothing for it, which is not "loaded")
unit_gone() { [ -n "$1" ] && [ "$(unit_state "$1")" != loaded ]; }
unit_active() { [ "$(systemctl --user show -p ActiveState --value "$1" 2>/dev/null)" = active ]; }
unit_prop() { systemctl --user show -p "$2" --value "$1" 2>/dev/null; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# pid_dead PID: gone, or a zombie its new parent has not reaped yet
pid_dead() { pid_gone "$1" || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]; }
# Every LLC lock free: an exclusive flock on each succeeds at once.
locks_free() {
	local f
	for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock; do
		[ -e "$f" ] || continue
		flock -n -x "$f" true || return 1
	done
	return 0
}
locks_held() { ! locks_free; }
wait_file() { kts_wait_until "${2:-10}" test -e "$1"; }

# pty_drive TRANSCRIPT STEP... -- CMD...: runs CMD as the session leader of a new
# pseudo-terminal (its controlling tty and stdin/stdout/stderr) and plays STEPs:
# expect:REGEX (in the output after the previous match), send:TEXT (Python escapes:
# \n, \x03 for Ctrl-C, \x1a for Ctrl-Z), file:PATH (wait until it exists), sleep:S.
# Each step waits at most 10 s. Exits with CMD's status (128+N on signal N), or
# 124 after SIGKILLing CMD on a timeout; the output goes to TRANSCRIPT.
pty_drive() {
	"$KTS_PYTHON" - "$@" <<'EOF'
import os, pty, re, select, signal, sys, time

transcript, steps, args = sys.argv[1], [], sys.argv[2:]
while args[0] != "--":
    steps.append(args.pop(0))
pid, fd = pty.fork()
if pid == 0:
    # A terminal session's Ctrl-C and Ctrl-\ work whatever started the suite: a shell
    # running it in the background (`tests/run-all.sh &`, nohup) leaves SIGINT and SIGQUIT
    # ignored, exec keeps them ignored, and COMMAND would outlive the Ctrl-C test.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    try:
        os.execvp(args[1], args[1:])
    finally:
        os._exit(127)
out, pos, eof = b"", 0, False

def pump(timeout):
    global out, eof
    if eof:
        time.sleep(timeout)
        return
    if select.select([fd], [], [], timeout)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: every holder of the terminal is gone
            data = b""
        eof = not data
        out += data

def finish(why=None):
    open(transcript, "wb").write(out)
    if why:
        sys.stderr.write("pty_drive: %s\n" % why)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.exit(124)

for step in steps:
    kind, _, arg = step.partition(":")
    start = time.monotonic()
    # generous: this checks what happens, not how fast (a loaded 2-CPU machine is slow)
    deadline = start + 30
    if kind == "send":
        os.write(fd, arg.encode().decode("unicode_escape").encode())
        continue
    while True:
        if kind == "expect":
            m = re.compile(arg.encode()).search(out, pos)
            if m:
                pos = m.end()
                break
        elif kind == "file" and os.path.exists(arg):
            break
        elif kind == "sleep" and time.monotonic() >= start + float(arg):
            break
        if time.monotonic() > deadline:
            finish("timed out at '%s'" % step)
        pump(0.02)
deadline = time.monotonic() + 30
while not eof and time.monotonic() < deadline:
    pump(0.05)
if not eof:
    finish("timed out waiting for the end of the output")
finish()
status = os.waitpid(pid, 0)[1]
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
EOF
}

kts_plan 52

# ---- 1. the scope while COMMAND runs ----------------------------------------------
d=$work/t1
mkdir "$d"
start_bg t1 -- sh -c "cat /proc/self/cgroup >$d/cgroup; grep -E '^(Cpus|Mems)_allowed_list' \
/proc/self/status >$d/status; head -n 1 /proc/self/numa_maps >$d/numa; touch $d/ready; \
while [ ! -e $d/go ]; do sleep 0.02; done"
if wait_file "$d/ready"; then
	unit=$(placement "$work/t1.err" 1)
	cpus=$(placement "$work/t1.err" 2)
	nodes=$(placement "$work/t1.err" 4)
	enf=$(placement "$work/t1.err" 5)
	kts_diag "placement: unit=$unit cpus=$cpus nodes=$nodes enforcement=$enf"
	kts_check "the unit exists and is active while COMMAND runs" unit_active "$unit"
	kts_check "the unit is named ktscope-run-PID-RANDOM.scope" \
		grep -qE "^ktscope-run-${t1_pid}-[0-9a-f]{8}\.scope\$" <<<"$unit"
	kts_check "AllowedCPUs read over the bus is the plan ($cpus)" \
		test "$(unit_prop "$unit" AllowedCPUs)" = "$cpus"
	kts_check "AllowedMemoryNodes read over the bus is the plan ($nodes)" \
		test "$(unit_prop "$unit" AllowedMemoryNodes)" = "$nodes"
	kts_check "the unit sits in ktscope.slice" test "$(unit_prop "$unit" Slice)" = ktscope.slice
	kts_check "COMMAND's /proc/self/cgroup is the scope" \
		grep -q "^0::/ktscope.slice/$unit\$" "$d/cgroup"
	kts_check "COMMAND's Cpus_allowed_list is the plan" \
		grep -qx "Cpus_allowed_list:[[:space:]]*$cpus" "$d/status"
	# MPOL_BIND to the plan's nodes shows in numa_maps as "bind:NODES" (kernel list syntax);
	# where the plan holds every node of the machine (one node here) it would bind nothing,
	# so there is none: "default", and the notice does not name it.
	machine_nodes=$(cat /sys/devices/system/node/online 2>/dev/null || echo 0)
	kts_diag "machine nodes $machine_nodes, plan nodes $nodes"
	if [ "$nodes" != "$machine_nodes" ]; then
		kts_check "COMMAND's memory policy is MPOL_BIND to the plan's nodes" \
			grep -q " bind:$nodes " "$d/numa"
	else
		kts_check "the plan holds every node: no memory policy, and the notice says so" \
			eval "grep -q ' default ' '$d/numa' && ! grep -q MPOL_BIND '$work/t1.err'"
	fi
	# No cpuset controller on this host's unified hierarchy: the fallback must say so.
	kts_check "enforcement is affinity, with a notice pointing at ktscope doctor" \
		eval "[ '$enf' = affinity ] && grep -q \"ktscope doctor\" '$work/t1.err'"
	kts_check "the LLC locks are held while COMMAND runs" locks_held
	touch "$d/go"
	wait "$t1_pid"
	rc=$?
	kts_check "exit 0 passes through" test $rc = 0
	kts_check "the unit is gone once ktscope returned" unit_gone "$unit"
	kts_check "the locks are free once ktscope returned" locks_free
else
	for i in $(seq 13); do kts_not_ok "scope test: COMMAND never started"; done
	kts_diag "$(cat "$work/t1.err")"
fi

# ---- 2. exit status passthrough ------------------------------------------------------
K -- sh -c 'exit 7' 2>/dev/null
kts_check "exit 7 passes through" test $? = 7
printf 'not a program\n' >"$work/notexec"
chmod 0644 "$work/notexec"
K -- "$work/notexec" 2>"$work/t2.err"
rc=$?
kts_check "a COMMAND that is not executable exits 126 with a message" \
	eval "[ $rc = 126 ] && grep -q \"'$work/notexec'\" '$work/t2.err'"
K -- ktscope-no-such-command 2>"$work/t2.err"
rc=$?
kts_check "a COMMAND that does not exist exits 127 with a message" \
	eval "[ $rc = 127 ] && grep -q \"'ktscope-no-such-command': command not found\" '$work/t2.err'"
K -- sh -c 'kill -TERM $$' 2>/dev/null
kts_check "death by SIGTERM exits 128+15" test $? = 143

# ---- 3. SIGINT to ktscope ---------------------------------------------------------------
d=$work/t3
mkdir "$d"
# SIGINT at its default for ktscope and COMMAND, whatever the caller of this script ignores.
env --default-signal=INT "$KTSCOPE" --user run --unit "ktscope-int-$$.scope" -- \
	sh -c "echo \$\$ >$d/pid; exec sleep 100" 2>"$work/t3.err" &
t3_pid=$!
bg_pids+=($t3_pid)
if wait_file "$d/pid"; then
	cmd_pid=$(cat "$d/pid")
	kill -INT "$t3_pid"
	wait "$t3_pid"
	rc=$?
	kts_check "SIGINT to ktscope reaches COMMAND, which exits 130" test $rc = 130
	kts_check "after SIGINT, COMMAND is gone" pid_gone "$cmd_pid"
	kts_check "after SIGINT, the unit is gone" unit_gone "ktscope-int-$$.scope"
else
	for i in 1 2 3; do kts_not_ok "SIGINT test: COMMAND never started"; done
fi

# ---- 4. kill -9 of ktscope --------------------------------------------------------------
d=$work/t4
mkdir "$d"
start_bg t4 --unit "ktscope-kill-$$.scope" -- \
	sh -c "sleep 100 & echo \$! >$d/bgpid; echo \$\$ >$d/pid; wait"
if wait_file "$d/pid" && wait_file "$d/bgpid"; then
	cmd_pid=$(cat "$d/pid")
	bg_pid=$(cat "$d/bgpid")
	kill -KILL "$t4_pid"
	wait "$t4_pid" 2>/dev/null
	# Bounds generous for a loaded 2-CPU machine; the time taken goes to the log.
	t0=$SECONDS
	kts_check "kill -9 of ktscope: COMMAND and its children go" \
		kts_wait_until 30 eval "pid_dead $cmd_pid && pid_dead $bg_pid"
	kts_check "kill -9 of ktscope: the unit goes" \
		kts_wait_until 30 unit_gone "ktscope-kill-$$.scope"
	kts_diag "kill -9: COMMAND and unit gone after $((SECONDS - t0)) s"
	kts_check "kill -9 of ktscope: the locks are free" locks_free
else
	for i in 1 2 3; do kts_not_ok "kill -9 test: COMMAND never started"; done
fi

# ---- 5. two --exclusive runs on a 1-LLC machine serialize --------------------------------
d=$work/t5
mkdir "$d"
start_bg t5a --exclusive -- sh -c "touch $d/a-ready; while [ ! -e $d/go ]; do sleep 0.02; done"
if wait_file "$d/a-ready"; then
	K --exclusive --no-wait -- touch "$d/b-ran" 2>"$work/t5b.err"
	rc=$?
	kts_check "a second --exclusive --no-wait exits 3 naming the holder" \
		eval "[ $rc = 3 ] && grep -q '$t5a_pid' '$work/t5b.err' && [ ! -e '$d/b-ran' ]"
	start_bg t5c --exclusive -- touch "$d/c-ran"
	# It has started and says it waits for the first's reservation, naming its pid.
	kts_check "a second --exclusive waits while the first runs, naming the holder" \
		eval "kts_wait_until 30 grep -q 'waiting for the reservation' '$work/t5c.err' &&
		      grep -q '$t5a_pid' '$work/t5c.err' && sleep 0.2 &&
		      kill -0 $t5c_pid 2>/dev/null && [ ! -e '$d/c-ran' ]"
	[ -e "$d/c-ran" ] && kts_diag "t5c: $(cat "$work/t5c.err")"
	touch "$d/go"
	wait "$t5a_pid"
	kts_check "the waiting --exclusive run goes once the first is done" \
		eval "wait $t5c_pid && [ -e '$d/c-ran' ]"
else
	for i in 1 2 3; do kts_not_ok "exclusive test: first run never started"; done
	kts_diag "$(cat "$work/t5a.err")"
fi

# ---- 6. two shared runs coexist ---------------------------------------------------------------
d=$work/t6
mkdir "$d"
start_bg t6a --cpu-cap 1 -- sh -c "touch $d/a; while [ ! -e $d/go ]; do sleep 0.02; done"
start_bg t6b --cpu-cap 1 -- sh -c "touch $d/b; while [ ! -e $d/go ]; do sleep 0.02; done"
kts_check "two shared runs hold their reservations at the same time" \
	eval "wait_file '$d/a' && wait_file '$d/b'"
touch "$d/go"
wait "$t6a_pid" && wait "$t6b_pid"
kts_check "both shared runs exit 0" test $? = 0

# ---- 7. a unit name that exists -------------------------------------------------------------
taken=ktscope-taken-$$.scope
systemd-run --user --scope --unit="$taken" -q sleep 60 &
taken_pid=$!
bg_pids+=($taken_pid)
if kts_wait_until 5 unit_active "$taken"; then
	K --exclusive --unit "$taken" -- touch "$work/t7-ran" 2>"$work/t7.err"
	rc=$?
	kts_diag "$(cat "$work/t7.err")"
	kts_check "--unit naming an existing unit fails with a clear error" \
		eval "[ $rc = 1 ] && grep -q \"'$taken' already exists\" '$work/t7.err'"
	kts_check "... COMMAND never ran, the locks are free, the other unit is untouched" \
		eval "[ ! -e '$work/t7-ran' ] && locks_free && unit_active $taken"
	kill "$taken_pid" 2>/dev/null
	wait "$taken_pid" 2>/dev/null
else
	for i in 1 2; do kts_not_ok "unit-exists test: systemd-run did not start"; done
fi

# ---- 8. the locks are released only after the unit is gone -----------------------------------
# COMMAND leaves a process behind that ignores SIGTERM for a while, so stopping the
# unit takes time. A watcher samples "lock free?" and then "unit loaded?": a sample
# with the lock free and the unit still loaded proves the wrong order.
d=$work/t8
mkdir "$d"
order_unit=ktscope-order-$$.scope
# Each sample also says whether ktscope has returned (probed first) and then whether the
# lingerer lives on after COMMAND's exit: "lingering ret" would be ktscope returning
# before that process was gone.
start_bg t8 --unit "$order_unit" -- \
	sh -c "(trap '' TERM; sleep 1.5) </dev/null >/dev/null 2>&1 & echo \$! >$d/lingerer;
	echo \$\$ >$d/main; touch $d/started"
wait_file "$d/started"
lingerer=$(cat "$d/lingerer") main=$(cat "$d/main")
: >"$d/samples"
while ! pid_dead "$t8_pid" || ! locks_free || ! unit_gone "$order_unit"; do
	if pid_dead "$t8_pid"; then k=ret; else k=run; fi
	if pid_dead "$main" && ! pid_dead "$lingerer"; then phase=lingering; else phase=-; fi
	if locks_free; then lf=1; else lf=0; fi
	echo "$lf $(unit_state "$order_unit") $phase $k" >>"$d/samples"
	[ "$(wc -l <"$d/samples")" -gt 2000 ] && break
done
wait "$t8_pid"
rc=$?
kts_diag "order samples: $(sort "$d/samples" | uniq -c | tr '\n' ';')"
kts_check "stop waits for a process that ignores SIGTERM: lock and unit kept while it lingers, ktscope returns after it" \
	eval "grep -qx '0 loaded lingering run' '$d/samples' && ! grep -q 'lingering ret' '$d/samples'"
kts_check "never was a lock free while the unit still existed" \
	eval "! grep -q '^1 loaded' '$d/samples' && [ $rc = 0 ]"

# ---- 9. no manager reachable --------------------------------------------------------------------
env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR=/nonexistent-ktscope \
	"$KTSCOPE" --user run -- touch "$work/t9-ran" 2>"$work/t9.err"
rc=$?
kts_check "no manager reachable: exit 4 naming the bus and KTSCOPE_SCOPE=none" \
	eval "[ $rc = 4 ] && grep -q /nonexistent-ktscope/bus '$work/t9.err' && \
	grep -q KTSCOPE_SCOPE=none '$work/t9.err' && [ ! -e '$work/t9-ran' ] && locks_free"
dbus-daemon --session --address="unix:path=$work/bare-bus" --nofork --nopidfile \
	</dev/null >/dev/null 2>&1 &
bare_bus=$!
bg_pids+=($bare_bus)
kts_wait_until 5 test -S "$work/bare-bus"
env DBUS_SESSION_BUS_ADDRESS="unix:path=$work/bare-bus" XDG_RUNTIME_DIR=/nonexistent-ktscope \
	"$KTSCOPE" --user run -- touch "$work/t9-ran" 2>"$work/t9.err"
rc=$?
kts_check "a bus without a systemd manager: exit 4 saying so" \
	eval "[ $rc = 4 ] && grep -q 'no systemd user manager answers' '$work/t9.err' && \
	[ ! -e '$work/t9-ran' ] && locks_free"
kill "$bare_bus"
wait "$bare_bus" 2>/dev/null

# ---- 10. KTSCOPE_SCOPE=none, --enforce cgroup, properties, bad values ---------------------------
KTSCOPE_SCOPE=none K -- sh -c "grep Cpus_allowed_list /proc/self/status >$work/t10; exit 5" \
	2>"$work/t10.err"
rc=$?
kts_check "KTSCOPE_SCOPE=none: runs with affinity only, says so" \
	eval "[ $rc = 5 ] && grep -q 'KTSCOPE_SCOPE=none' '$work/t10.err' && \
	grep -qx \"Cpus_allowed_list:[[:space:]]*\$(placement '$work/t10.err' 2)\" '$work/t10'"

K --enforce cgroup --unit "ktscope-enf-$$.scope" -- touch "$work/t10-ran" 2>"$work/t10.err"
rc=$?
kts_check "--enforce cgroup without a cpuset controller: exit 4, nothing left" \
	eval "[ $rc = 4 ] && [ ! -e '$work/t10-ran' ] && unit_gone ktscope-enf-$$.scope && locks_free"

d=$work/t10p
mkdir "$d"
start_bg t10p --unit "ktscope-props-$$.scope" --slice "ktscope-test.slice" --cpu-weight 42 \
	--memory-high 64M -- sh -c "touch $d/ready; while [ ! -e $d/go ]; do sleep 0.02; done"
if wait_file "$d/ready"; then
	u=ktscope-props-$$.scope
	kts_check "--slice, --cpu-weight, --memory-high reach the unit" \
		eval "[ \"\$(unit_prop $u Slice)\" = ktscope-test.slice ] && \
		[ \"\$(unit_prop $u CPUWeight)\" = 42 ] && \
		[ \"\$(unit_prop $u MemoryHigh)\" = 67108864 ] && \
		[ \"\$(unit_prop $u Description)\" = \"ktscope run: sh -c touch $d/ready; while [ ! -e $d/go ]; do sleep 0.02; done\" ]"
else
	kts_not_ok "properties test: COMMAND never started"
fi
touch "$d/go"
wait "$t10p_pid"

bad=0
for args in "--unit foo" "--unit bad/name.scope" "--cpu-weight 0" "--cpu-weight 10001" \
	"--memory-high 12Q" "--memory-high -1" "--enforce maybe" "--slice x.scope" \
	"--cpu-cap 0" "--exclusive=2 --cpu-cap 1"; do
	K $args -- touch "$work/t10-bad" 2>"$work/t10.err"
	rc=$?
	value=${args##* }
	value=${value#--exclusive=}
	if [ $rc != 2 ] || ! grep -q -- "$value" "$work/t10.err" || [ -e "$work/t10-bad" ]; then
		kts_diag "'run $args' gave $rc: $(cat "$work/t10.err")"
		bad=1
	fi
done
kts_check "bad values exit 2 naming the value, and run nothing" test $bad = 0

# ---- 11. COMMAND on a terminal ------------------------------------------------------------
# On a real pseudo-terminal, COMMAND must get the terminal (a read from it would stop
# a background process group with SIGTTIN, and ktscope would hang), Ctrl-C must reach
# it, and Ctrl-Z must stop the job for a job-control shell, which `fg` resumes.
d=$work/t11
mkdir "$d"
export KTSCOPE d
# COMMAND reads a line from the terminal; the shell around ktscope reads the next one,
# which works only if ktscope took the terminal back when COMMAND ended.
pty_drive "$d/read.out" "expect:enforcement" "send:hello from the tty\n" \
	"expect:got:hello from the tty" "send:back\n" "expect:after:back" -- \
	bash -c '"$KTSCOPE" --user run -- sh -c "read -r l; echo got:\$l"; echo rc:$?;
		read -r x; echo after:$x' 2>"$d/read.err"
rc=$?
[ $rc = 0 ] || kts_diag "exit $rc; $(cat "$d/read.err" "$d/read.out")"
kts_check "a COMMAND that reads the terminal gets its line (no SIGTTIN hang) and exits 0" \
	eval "[ $rc = 0 ] && grep -q '^rc:0' '$d/read.out'"
kts_check "the terminal is ktscope's again once COMMAND ended" grep -q '^after:back' "$d/read.out"

tty_unit=ktscope-tty-int-$$.scope
pty_drive "$d/int.out" "file:$d/int-ready" "sleep:0.2" "send:\x03" -- \
	"$KTSCOPE" --user run --unit "$tty_unit" -- \
	sh -c "touch $d/int-ready; read -r l; echo not-reached" 2>"$d/int.err"
rc=$?
[ $rc = 130 ] || kts_diag "exit $rc; $(cat "$d/int.err" "$d/int.out")"
kts_check "Ctrl-C on the terminal ends a COMMAND that reads it: exit 130" test $rc = 130
kts_check "after Ctrl-C on the terminal, the unit is gone and the locks are free" \
	eval "unit_gone $tty_unit && locks_free && ! grep -q not-reached '$d/int.out'"

# Ctrl-Z under a job-control shell (set -m): the job stops (128+SIGTSTP) with the
# unit and the locks kept, and fg gives COMMAND the terminal again.
tty_unit=ktscope-tty-stop-$$.scope
export tty_unit
pty_drive "$d/stop.out" "file:$d/stop-ready" "sleep:0.3" "send:\x1a" "expect:stopped:148" \
	"expect:fg:" "sleep:0.3" "send:after fg\n" "expect:got:after fg" "expect:rc:0" -- \
	bash -c 'set -m
		"$KTSCOPE" --user run --unit "$tty_unit" -- \
			sh -c "touch $d/stop-ready; read -r l; echo got:\$l"
		echo stopped:$?
		echo "unit:$(systemctl --user show -p ActiveState --value "$tty_unit")"
		for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock; do
			flock -n -x "$f" true || echo "locks:held"
		done
		jobs -l
		echo fg:
		fg >/dev/null
		echo rc:$?' 2>"$d/stop.err"
rc=$?
[ $rc = 0 ] || kts_diag "exit $rc; $(cat "$d/stop.err" "$d/stop.out")"
kts_check "Ctrl-Z stops the whole job: the shell sees ktscope stopped (exit 148)" \
	eval "[ $rc = 0 ] && grep -q '^stopped:148' '$d/stop.out' && \
	grep -q 'Stopped' '$d/stop.out'"
kts_check "while stopped, the unit stays active and the locks stay held" \
	eval "grep -q '^unit:active' '$d/stop.out' && grep -q '^locks:held' '$d/stop.out'"
kts_check "fg resumes COMMAND in the foreground: it reads the terminal and exits 0" \
	eval "grep -q '^got:after fg' '$d/stop.out' && grep -q '^rc:0' '$d/stop.out'"
kts_check "after the stopped run ended, the unit is gone and the locks are free" \
	eval "unit_gone $tty_unit && locks_free"

# Without a terminal on stdin nothing changes: COMMAND reads stdin as before.
out=$(echo piped | K -- sh -c 'read -r l; echo got:$l' 2>/dev/null)
kts_check "stdin not a terminal: COMMAND reads it as before" test "$out" = "got:piped"

# ---- the wire: what `run -- true` says to the manager ------------------------------------
# Nothing else calls the manager meanwhile: run asks for no accounting and reads none back
# (they are a build's telemetry), and reads the manager's Version with Subscribe, before the
# start: a manager below 253 gets PIDs at once instead of a PIDFDs request it refuses.
version=$(busctl --user get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
	org.freedesktop.systemd1.Manager Version 2>/dev/null | sed 's/^s "v\{0,1\}\([0-9]*\).*/\1/')
if kts_bus_monitor_start "$work/wire.mon"; then
	bg_pids+=($kts_bus_monitor_pid)
	K -- true 2>"$work/wire.err"
	rc=$?
	kts_bus_monitor_stop "$work/wire.mon"
	calls=$(kts_bus_calls "$work/wire.mon" | tr '\n' ' ')
	kts_diag "manager version '$version'; run's calls: $calls"
	kts_check "run: one StartTransientUnit, after Subscribe and the Version read" eval \
		"[ $rc = 0 ] && [ \$(grep -o 'StartTransientUnit' <<<'$calls' | wc -l) = 1 ] &&
		grep -q 'Subscribe Get:Version StartTransientUnit' <<<'$calls'"
	if [ -n "$version" ] && [ "$version" -lt 253 ]; then
		kts_check "run: systemd $version gets PIDs at once, no PIDFDs request it would refuse" \
			grep -q 'StartTransientUnit:PIDs ' <<<"$calls "
	else
		kts_check "run: systemd ${version:-?} gets PIDFDs" \
			grep -q 'StartTransientUnit:PIDFDs ' <<<"$calls "
	fi
	kts_check "run: no accounting asked for (CPUAccounting...) or read back (CPUUsageNSec...)" \
		eval "! grep -qE 'Accounting|Get:(CPUUsageNSec|MemoryPeak|IOReadBytes|IOWriteBytes)' <<<'$calls'"
	# The watch on the manager's departure (its AddMatch) goes out with the connection,
	# before the fork and before anything is asked of the manager: its answer comes while
	# the scope is set up, and no NameHasOwner round trip of its own follows the start.
	kts_check "run: the manager watch's AddMatch goes out before Subscribe; no NameHasOwner" \
		eval "grep -q '^Hello AddMatch AddMatch Subscribe Get:Version StartTransientUnit' <<<'$calls' &&
			! grep -q NameHasOwner <<<'$calls'"
else
	for i in 1 2 3 4; do kts_skip "run's calls on the wire" "dbus-monitor missing or not starting"; done
fi

help=$("$KTSCOPE" run --help)
missing=
for flag in --cpu-cap --exclusive --enforce --no-wait --unit --slice --cpu-weight \
	--memory-high --user --system 126 127 128+N; do
	grep -q -- "$flag" <<<"$help" || missing="$missing $flag"
done
kts_check "run --help documents every flag and exit code${missing:+ (missing:$missing)}" \
	test -z "$missing"

[ $kts_nfail = 0 ]
