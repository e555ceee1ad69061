# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the integration scripts (sourced, not run): TAP output,
# skip rules, polling. Scripts set KTS_TOP_SRCDIR/KTS_TOP_BUILDDIR/KTSCOPE
# (automake's AM_TESTS_ENVIRONMENT does) or run from a build directory.

kts_ntest=0
kts_nfail=0

# Skip the whole script (TAP "1..0 # SKIP", exit 0: the TAP driver counts a
# non-zero exit as an error), unless CI=true, where a missing capability
# is a failure: CI machines are provisioned to run every test.
kts_skip_all() {
	if [ "${CI:-}" = true ]; then
		echo "Bail out! CI=true but cannot run: $*"
		exit 99
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

# kts_skip DESC REASON: one skipped TAP line; under CI=true a failed one, since a CI
# machine has every prerequisite (tests/skip-allowlist lists the skips CI may take).
kts_skip() {
	if [ "${CI:-}" = true ]; then
		kts_not_ok "$1 (CI=true but cannot run: $2)"
		return
	fi
	kts_ntest=$((kts_ntest + 1))
	echo "ok $kts_ntest - $1 # SKIP $2"
}

kts_plan() {
	echo "1..$1"
}

kts_ok() {
	kts_ntest=$((kts_ntest + 1))
	echo "ok $kts_ntest - $*"
}

kts_not_ok() {
	kts_ntest=$((kts_ntest + 1))
	kts_nfail=$((kts_nfail + 1))
	echo "not ok $kts_ntest - $*"
}

# kts_check DESC CMD...: one TAP line from CMD's status.
kts_check() {
	local desc=$1
	shift
	if "$@"; then
		kts_ok "$desc"
	else
		kts_not_ok "$desc"
	fi
}

# kts_diag TEXT...: TAP diagnostics, one "# " line per input line.
kts_diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# kts_capture CMD...: runs CMD; sets rc (its exit status), out (its stdout) and err
# (its stderr), trailing newlines stripped.
kts_capture() {
	local o e
	o=$(mktemp) && e=$(mktemp) || { rc=99 out= err="mktemp failed"; return; }
	"$@" >"$o" 2>"$e"
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
}

# kts_expect WANT_RC REGEX DESC CMD...: one TAP line that passes when CMD exits with
# WANT_RC and, unless REGEX is empty, its stderr matches REGEX (grep -E); a failure
# shows the stderr as diagnostics. Leaves rc/out/err as kts_capture does.
kts_expect() {
	local want=$1 re=$2 desc=$3
	shift 3
	kts_capture "$@"
	if [ "$rc" != "$want" ]; then
		kts_not_ok "$desc (exit $rc, want $want)"
		kts_diag "stderr: $err"
	elif [ -n "$re" ] && ! grep -qE -- "$re" <<<"$err"; then
		kts_not_ok "$desc (stderr does not match /$re/)"
		kts_diag "stderr: $err"
	else
		kts_ok "$desc"
	fi
}

# kts_wait_until SECONDS CMD...: polls CMD every 20 ms; 0 when it succeeded in time.
kts_wait_until() {
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	while ! "$@"; do
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
	return 0
}

# kts_bg CMD...: CMD in the background in its own process group (job control on for
# the launch only), so that kts_kill_bg ends it with everything it started; its pid
# (which is the group's id) in kts_bg_pid. Redirections go on the kts_bg call.
kts_bg_pids=()
kts_bg() {
	local had_m=0
	case $- in *m*) had_m=1 ;; esac
	set -m
	"$@" &
	kts_bg_pid=$!
	[ $had_m = 1 ] || set +m
	kts_bg_pids+=("$kts_bg_pid")
}

# kts_kill_bg [SIGNAL]: sends SIGNAL (default KILL) to every process group kts_bg
# started and reaps their leaders. For the EXIT trap.
kts_kill_bg() {
	local p
	for p in "${kts_bg_pids[@]}"; do kill -"${1:-KILL}" -- "-$p" 2>/dev/null; done
	for p in "${kts_bg_pids[@]}"; do wait "$p" 2>/dev/null; done
	kts_bg_pids=()
}

# Strays (tests/run-test.sh, tests/integration/zz-strays.sh): AM_TESTS_ENVIRONMENT puts
# KTS_TEST_SUITE={build dir} and KTS_TEST_LOG={the test's log} in every test's
# environment, which whatever the test starts inherits.

# kts_ppid PID: PID's parent (from /proc/PID/stat; the comm field may hold spaces).
kts_ppid() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	set -- $s
	echo "$2"
}

# kts_descends PID ANCESTOR: PID is ANCESTOR or below it.
kts_descends() {
	local p=$1
	while [ "$p" -gt 1 ]; do
		[ "$p" = "$2" ] && return 0
		p=$(kts_ppid "$p") || return 1
	done
	return 1
}

# kts_env_of PID NAME: NAME's value in PID's environment (empty: none, or unreadable).
kts_env_of() {
	tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1
}

# kts_marked NAME=VALUE EXCEPT: live processes (one pid a line) with NAME=VALUE in their
# environment, except EXCEPT and what runs below it. Zombies have no environment.
kts_marked() {
	local f p
	for f in $(grep -lzxF -- "$1" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/environ}
		kts_descends "$p" "$2" && continue
		kill -0 "$p" 2>/dev/null && echo "$p"
	done
}

# kts_marked_top NAME=VALUE: the topmost ancestor of this shell with NAME=VALUE in its
# environment (for a test, the shell make started for it; kts_marked's EXCEPT).
kts_marked_top() {
	local top=$$ p=$$
	while p=$(kts_ppid "$p") && [ "$p" -gt 1 ] &&
		grep -qzxF -- "$1" "/proc/$p/environ" 2>/dev/null; do
		top=$p
	done
	echo "$top"
}

# kts_describe PID: "pid N (TEST LOG): CMDLINE"
kts_describe() {
	local cmd log
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)
	log=$(kts_env_of "$1" KTS_TEST_LOG)
	echo "pid $1 (from ${log:-an unknown test}): ${cmd:-?}"
}

# The built binary: $KTSCOPE from the harness, else ./ktscope of the build dir.
kts_find_ktscope() {
	if [ -z "${KTSCOPE:-}" ]; then
		KTSCOPE=${KTS_TOP_BUILDDIR:-$PWD}/ktscope
	fi
	[ -x "$KTSCOPE" ] || kts_skip_all "ktscope binary not found at '$KTSCOPE' (build it first)"
	export KTSCOPE
}

# kts_find_python: KTS_PYTHON = the python3 interpreter itself (sys.executable),
# resolved once; a version manager's shim (pyenv) costs seconds on every call.
# python3 is a test dependency (.ci/run installs it).
kts_find_python() {
	[ -n "${KTS_PYTHON:-}" ] && return 0
	KTS_PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
	[ -x "$KTS_PYTHON" ] || KTS_PYTHON=python3
	export KTS_PYTHON
}

# kts_free_port: a TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick
# for port 0); nothing listens on it until the caller starts something there.
kts_free_port() {
	kts_find_python
	"$KTS_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Path of manager.sh next to this file.
kts_manager_sh() {
	echo "${KTS_TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/integration/manager.sh"
}

# kts_reexec_inside_manager "$0" "$@": re-runs the calling script inside the
# confined systemd user manager of manager.sh, once (KTS_INSIDE_MANAGER marks the
# inner run). Returns only in the inner run.
kts_reexec_inside_manager() {
	local script=$1
	shift
	[ "${KTS_INSIDE_MANAGER:-}" = 1 ] && return 0
	exec bash "$(kts_manager_sh)" run-inside bash "$script" "$@"
}

# kts_need_test_hooks: the whole test is one skip where $KTSCOPE has no test hooks (release
# builds: distcheck, packages; that skip is on run-all.sh's list).
kts_need_test_hooks() {
	"$KTSCOPE" --version | grep -qx 'test-hooks: yes' && return 0
	echo "1..0 # SKIP test hooks not compiled in"
	exit 0
}

# kts_hook_sandbox NAME: $work, with private lock, cache and hook dirs (exported), the
# variables that would change a build unset, and bg_pids; at exit the paused steps are let
# go, each background job's process group (set -m) is killed and $work removed.
kts_hook_sandbox() {
	work=$(mktemp -d "/tmp/ktscope-$1-test.XXXXXX")
	export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache \
		KTSCOPE_TEST_HOOK_DIR=$work/hook
	mkdir "$work/locks" "$work/hook"
	unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_TEST_HOOK \
		FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
	bg_pids=()
	trap _kts_hook_cleanup EXIT
}
_kts_hook_cleanup() {
	local p
	rm -f "$work"/hook/*.paused
	for p in "${bg_pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}

# Processes in the scope's cgroup as seen by the manager: "systemctl show -p MainPID"
# does not apply to scopes, so read the unit's ControlGroup and list it.
kts_unit_exists() {
	systemctl --user is-active --quiet "$1" 2>/dev/null ||
		[ "$(systemctl --user show -p LoadState --value "$1" 2>/dev/null)" = loaded ]
}

# kts_run_inside N SCRIPT ARGS...: runs "bash SCRIPT ARGS" inside the confined user
# manager and turns its "PASS desc" / "FAIL desc" / "DIAG text" lines into N TAP
# results named "in the user manager: desc". A manager that cannot start (TAP
# "1..0 # SKIP") skips all N; results that never came are failures.
kts_run_inside() {
	local want=$1 out err rc n=0 i line reason
	shift
	out=$(mktemp) err=$(mktemp)
	bash "$(kts_manager_sh)" run-inside bash "$@" >"$out" 2>"$err"
	rc=$?
	if grep -q '^1\.\.0 # SKIP' "$out"; then
		reason=$(sed -n 's/^1\.\.0 # SKIP //p' "$out")
		for ((i = 0; i < want; i++)); do
			kts_ntest=$((kts_ntest + 1))
			echo "ok $kts_ntest - in the user manager: test $((i + 1)) # SKIP ${reason:-no manager}"
		done
	else
		while IFS= read -r line; do
			case $line in
			"PASS "*) kts_ok "in the user manager: ${line#PASS }"; n=$((n + 1)) ;;
			"FAIL "*) kts_not_ok "in the user manager: ${line#FAIL }"; n=$((n + 1)) ;;
			"DIAG "*) kts_diag "${line#DIAG }" ;;
			*) kts_diag "$line" ;;
			esac
		done <"$out"
		if [ $n != "$want" ] || [ $rc != 0 ]; then
			kts_diag "manager.sh exited $rc after $n of $want results: $(cat "$err")"
			for ((i = n; i < want; i++)); do
				kts_not_ok "in the user manager: result $((i + 1)) missing"
			done
		fi
	fi
	rm -f "$out" "$err"
}

# kts_fake_tree DIR [MESSAGE]: a copy of tests/data/fake-kernel at DIR as a clean git
# work tree (branch master) with one commit; prints DIR.
kts_fake_tree() {
	local t=$1
	cp -r "$KTS_TOP_SRCDIR/tests/data/fake-kernel" "$t" && chmod -R u+w "$t" &&
		git -c init.defaultBranch=master -C "$t" init -q && git -C "$t" add -A &&
		git -C "$t" -c user.name=t -c user.email=t@t commit -qm "${2:-fake}" || return 1
	echo "$t"
}

# kts_start_mirror VAR DIR [--tls CERT KEY]: tests/integration/mirror.py serving DIR on
# 127.0.0.1, started with kts_bg (its own process group: kts_kill_bg in the caller's EXIT
# trap ends it); VAR = its port. A mirror that does not start is a skip (under CI=true, a
# failure).
kts_start_mirror() {
	local var=$1 dir=$2 portf port
	shift 2
	kts_find_python
	portf=$(mktemp) || kts_skip_all "mktemp failed"
	kts_bg "$KTS_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/mirror.py" "$@" "$dir" >"$portf"
	kts_wait_until 10 test -s "$portf" || kts_skip_all "mirror.py did not start"
	port=$(head -n1 "$portf")
	rm -f "$portf"
	printf -v "$var" '%s' "$port"
}

# kts_fake_release_mirror DIR VERSION...: a kernel.org-like mirror in DIR: a tarball of
# tests/data/fake-kernel as v{MAJOR}.x/linux-VERSION.tar.xz for each VERSION,
# v{MAJOR}.x/sha256sums.asc listing their checksums (PGP armour around them, as kernel.org
# has), and releases.json naming the first VERSION "stable" and the others "longterm".
kts_fake_release_mirror() {
	local dir=$1 v major tmp moniker=stable rels=
	shift
	tmp=$(mktemp -d) || return 1
	for v in "$@"; do
		major=${v%%.*}
		mkdir -p "$dir/v$major.x"
		cp -r "${KTS_TOP_SRCDIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/data/fake-kernel" \
			"$tmp/linux-$v"
		chmod -R u+w "$tmp/linux-$v"
		tar -cJf "$dir/v$major.x/linux-$v.tar.xz" -C "$tmp" "linux-$v" || return 1
		rels+="${rels:+,}{\"moniker\": \"$moniker\", \"version\": \"$v\", \"iseol\": false}"
		moniker=longterm
	done
	for major in $(printf '%s\n' "$@" | cut -d. -f1 | sort -u); do
		{
			printf -- '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n'
			(cd "$dir/v$major.x" && sha256sum linux-*.tar.xz)
			printf -- '-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdummy=\n'
			printf -- '-----END PGP SIGNATURE-----\n'
		} >"$dir/v$major.x/sha256sums.asc"
	done
	printf '{"latest_stable": {"version": "%s"}, "releases": [%s]}\n' "$1" "$rels" \
		>"$dir/releases.json"
	rm -rf "$tmp"
}

# ---- the manager's bus, watched (dbus-monitor on the confined bus) ----
# kts_bus_monitor_start FILE: every method call on $DBUS_SESSION_BUS_ADDRESS goes to FILE
# from now on (returns once the monitor saw a call of ours); pid in kts_bus_monitor_pid.
# Returns 1 when dbus-monitor is missing or does not start.
kts_bus_monitor_start() {
	command -v dbus-monitor >/dev/null || return 1
	dbus-monitor --address "$DBUS_SESSION_BUS_ADDRESS" "type='method_call'" >"$1" 2>&1 &
	kts_bus_monitor_pid=$!
	# (--print-reply: a call that expects no reply may be dropped when the sender left)
	kts_wait_until 10 eval "dbus-send --session --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1 &&
		grep -q member=GetId '$1'" && return 0
	kill "$kts_bus_monitor_pid" 2>/dev/null
	wait "$kts_bus_monitor_pid" 2>/dev/null
	return 1
}

# kts_bus_monitor_stop FILE: once the last call of a scope (UnrefUnit) is in FILE (10 s at
# most), stops the monitor.
kts_bus_monitor_stop() {
	kts_wait_until 10 grep -q 'member=UnrefUnit' "$1"
	kill "$kts_bus_monitor_pid" 2>/dev/null
	wait "$kts_bus_monitor_pid" 2>/dev/null
}

# kts_bus_calls FILE: one line per method call that the connection which called
# StartTransientUnit sent, in order: the member ("Get:Prop" for a property read,
# "StartTransientUnit:PIDs,CPUAccounting,..." with the process and accounting properties).
kts_bus_calls() {
	"$KTS_PYTHON" - "$1" <<'EOF'
import re, sys
calls, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"method call time=\S+ sender=(\S+) -> .*member=(\w+)", line)
    if m:
        cur = [m.group(1), m.group(2), []]
        calls.append(cur)
    elif cur and line.startswith(" "):
        cur[2].append(line.strip())
me = {c[0] for c in calls if c[1] == "StartTransientUnit"}
for snd, member, body in calls:
    if snd not in me:
        continue
    strings = [b.split('"')[1] for b in body if b.startswith('string "')]
    if member == "Get" and len(strings) > 1:
        member = "Get:" + strings[1]
    if member == "StartTransientUnit":
        member += ":" + ",".join(s for s in strings if s in ("PIDs", "PIDFDs") or "Accounting" in s)
    print(member)
EOF
}
