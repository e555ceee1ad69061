#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope doctor` against the real machine: outside any manager the user-manager
# check fails with its fix and exit 4; in the confined user manager of manager.sh
# the manager is reachable, the probe scope shows the enforcement builds will get
# (affinity on this hybrid host, with the cpuset drop-in as the fix) and leaves
# no unit behind; an unusable lock or cache directory and a missing or too old
# toolchain fail by name; the JSON shape; colour only on a tty; --help.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

# json_check FILE PYTHON-EXPR: evaluates EXPR with c = {name: check} and j = the
# document; exit 0 when true. python3 is a test dependency (.ci/run installs it).
json_check() {
	python3 - "$1" "$2" <<'EOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in j["checks"]}
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
EOF
}

# ---- inside the confined manager: one "PASS|FAIL|DIAG text" line per result ----
inside() {
	local rc out enf_re
	# Global: the EXIT trap runs after this function has returned.
	tmp=$(mktemp -d /tmp/ktscope-doctor.XXXXXX) || exit 99
	trap 'rm -rf "$tmp"' EXIT
	result() { if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fi; }
	diag() { printf '%s\n' "$*" | sed 's/^/DIAG /'; }

	KTSCOPE_LOCK_DIR=$tmp KTSCOPE_CACHE_DIR=$tmp/cache "$KTSCOPE" --user doctor --json \
		>"$tmp/out.json" 2>"$tmp/err"
	rc=$?
	result $(json_check "$tmp/out.json" 'c["user-manager"]["status"] == "ok" and
		c["user-manager"]["fix"] is None and
		re.search(r"manager \(systemd [0-9]+\) on ", c["user-manager"]["detail"])'
		echo $?) "user-manager is ok in the confined manager, naming its systemd version"
	if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ]; then
		# Hybrid, like this project's hosts (DESIGN §8): cpuset stays on cgroup v1.
		result $(json_check "$tmp/out.json" 'c["cpu-enforcement"]["detail"].startswith(
			"affinity:") and c["cpu-enforcement"]["status"] == "warn"'; echo $?) \
			"cpu-enforcement reports affinity (no cpuset on this host's unified hierarchy)"
		result $(json_check "$tmp/out.json" '"systemd.unified_cgroup_hierarchy=1" in
			c["cgroup-hierarchy"]["fix"] and c["cgroup-hierarchy"]["detail"].startswith(
			"hybrid")'; echo $?) "cgroup-hierarchy names the hybrid layout and the boot option"
	else
		result $(json_check "$tmp/out.json" '(c["cpu-enforcement"]["status"] == "ok") ==
			c["cpu-enforcement"]["detail"].startswith("cgroup:")'; echo $?) \
			"cpu-enforcement: ok exactly when the cgroup enforces the probe's CPUs"
		result $(json_check "$tmp/out.json" 'c["cgroup-hierarchy"]["detail"].startswith(
			"unified")'; echo $?) "cgroup-hierarchy reports the unified layout"
	fi
	result $(json_check "$tmp/out.json" 'c["cpu-enforcement"]["status"] == "ok" or all(
		s in c["cpu-enforcement"]["fix"] for s in (
		"/etc/systemd/system/user@.service.d/ktscope-cpuset.conf", "ktscope-cpuset.conf",
		"daemon-reload", "restart user@"))'; echo $?) \
		"without cgroup enforcement, the fix installs the drop-in and restarts the user manager"
	# Exit 4 exactly when a check failed (the toolchain may be incomplete on a dev box).
	result $(json_check "$tmp/out.json" "any(x['status'] == 'fail' for x in j['checks']) == ($rc == 4)
		and $rc in (0, 4)"; echo $?) "exit status $rc matches the failed checks"
	[ -s "$tmp/err" ] && diag "stderr: $(cat "$tmp/err")"
	grep -q '"name"' "$tmp/out.json" || diag "stdout: $(cat "$tmp/out.json")"

	out=$(systemctl --user list-units --all --no-legend --plain 'ktscope-doctor-*' 2>&1)
	result $([ -z "$out" ]; echo $?) "the probe scope is gone after doctor"
	[ -z "$out" ] || diag "left: $out"

	out=$(KTSCOPE_LOCK_DIR=$tmp KTSCOPE_CACHE_DIR=$tmp/cache "$KTSCOPE" --user doctor 2>&1)
	enf_re='^[✓!] cpu enforcement: '
	[ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && enf_re='^! cpu enforcement: affinity'
	grep -qx '✓ user manager: .*starts scopes.*' <<<"$out" &&
		{ grep -q '^✓ cpu enforcement: cgroup' <<<"$out" ||
			grep -A1 "$enf_re" <<<"$out" | grep -q '^    fix: '; }
	rc=$?
	result $rc "human output: ✓ for the manager, ! for affinity with 'fix:' below it"
	[ $rc = 0 ] || diag "$out"
}
N_INSIDE=7

if [ "${1:-}" = --inside ]; then
	inside
	exit 0
fi

# ---- outside ------------------------------------------------------------------------
kts_find_ktscope
command -v python3 >/dev/null || kts_skip_all "python3 not found (needed to read the JSON)"
kts_plan $((N_INSIDE + 19))
tmp=$(mktemp -d /tmp/ktscope-doctor-test.XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT
mkdir -m 0700 "$tmp/rt"
export KTSCOPE_LOCK_DIR=$tmp KTSCOPE_CACHE_DIR=$tmp/cache
# No user manager: the session bus and the private socket point at nothing.
nobus=(env DBUS_SESSION_BUS_ADDRESS=unix:path=$tmp/no-such-bus XDG_RUNTIME_DIR=$tmp/rt)

run_capture() { # run_capture CMD...: $rc, $out, $err
	"$@" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	out=$(cat "$tmp/o")
	err=$(cat "$tmp/e")
}

run_capture "$KTSCOPE" doctor --help
kts_check "--help exits 0 and documents --json and the exit status" \
	eval '[ $rc = 0 ] && grep -q -- "--json" <<<"$out" && grep -q "Exit status" <<<"$out"'
run_capture "$KTSCOPE" doctor --bogus
kts_check "a bad option exits 2 with one 'ktscope:' line" \
	eval '[ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && [[ $err == ktscope:*--bogus* ]]'

run_capture "${nobus[@]}" "$KTSCOPE" --user doctor --json
cp "$tmp/o" "$tmp/nobus.json"
kts_check "no user manager: exit 4 (got $rc)" [ $rc = 4 ]
kts_check "no user manager: user-manager fails, naming the bus it tried, with a fix" \
	json_check "$tmp/nobus.json" 'c["user-manager"]["status"] == "fail" and
		"no-such-bus" in c["user-manager"]["detail"] and c["user-manager"]["fix"]'
kts_check "JSON shape: {checks: [{name, status, detail, fix}]}, statuses ok|warn|fail, fix null or text" \
	json_check "$tmp/nobus.json" 'list(j) == ["checks"] and len(j["checks"]) == len(c) and all(
		sorted(x) == ["detail", "fix", "name", "status"] and x["status"] in ("ok", "warn", "fail")
		and isinstance(x["detail"], str) and x["detail"] and (x["fix"] is None or
		(isinstance(x["fix"], str) and x["fix"])) and (x["status"] != "ok" or x["fix"] is None)
		for x in j["checks"])'
kts_check "every documented check is there" \
	json_check "$tmp/nobus.json" 'set(c) >= {"topology", "user-manager", "system-manager",
		"cgroup-hierarchy", "cpu-enforcement", "lock-dir", "cache-dir", "make", "c-compiler",
		"flex", "bison", "bc", "pahole", "libelf", "openssl", "sched-ext"}'
kts_check "the lock and cache checks pass on private writable directories" \
	json_check "$tmp/nobus.json" 'c["lock-dir"]["status"] == "ok" and
		c["cache-dir"]["status"] in ("ok", "warn") and "/cache" in c["cache-dir"]["detail"]'

# Human output: the failing check, its fix on the next line; no colour off a tty.
run_capture "${nobus[@]}" "$KTSCOPE" --user doctor
kts_check "human output: ✗ user manager, then its fix on the next line" \
	eval 'grep -A1 "^✗ user manager: " <<<"$out" | tail -1 | grep -q "^    fix: "'
kts_check "no escape sequences when stdout is not a tty" eval '! grep -q $'"'"'\033'"'"' "$tmp/o"'
if command -v script >/dev/null; then
	script -qec "${nobus[*]} $KTSCOPE --user doctor" /dev/null >"$tmp/tty" 2>&1
	NO_COLOR=1 script -qec "${nobus[*]} $KTSCOPE --user doctor" /dev/null >"$tmp/tty-nc" 2>&1
	kts_check "colour on a tty, none with NO_COLOR=1" \
		eval 'grep -q $'"'"'\033\[3'"'"' "$tmp/tty" && ! grep -q $'"'"'\033'"'"' "$tmp/tty-nc"'
else
	kts_skip "colour on a tty, none with NO_COLOR=1" "script(1) not installed (util-linux)"
fi

# An unwritable cache directory: a read-only bind mount in a private mount namespace
# (root ignores mode bits), or mode 0555 for a normal user.
mkdir -p "$tmp/ro/cache"
if [ "$(id -u)" = 0 ]; then
	run_capture unshare --mount --propagation private -- sh -c \
		'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' _ \
		"$tmp/ro" "${nobus[@]}" KTSCOPE_CACHE_DIR="$tmp/ro/cache" "$KTSCOPE" --user doctor --json
else
	chmod 0555 "$tmp/ro/cache"
	run_capture "${nobus[@]}" KTSCOPE_CACHE_DIR="$tmp/ro/cache" "$KTSCOPE" --user doctor --json
	chmod 0755 "$tmp/ro/cache"
fi
cp "$tmp/o" "$tmp/ro.json"
kts_check "unwritable cache directory: cache-dir fails naming it, exit 4" \
	eval '[ $rc = 4 ] && json_check "$tmp/ro.json" "c[\"cache-dir\"][\"status\"] == \"fail\" and
		\"$tmp/ro/cache\" in c[\"cache-dir\"][\"detail\"] and c[\"cache-dir\"][\"fix\"]"'

run_capture "${nobus[@]}" KTSCOPE_LOCK_DIR="$tmp/no/such/dir" "$KTSCOPE" --user doctor --json
cp "$tmp/o" "$tmp/lock.json"
kts_check "missing lock directory: lock-dir fails naming it" \
	json_check "$tmp/lock.json" 'c["lock-dir"]["status"] == "fail" and
		"no/such/dir" in c["lock-dir"]["detail"] and "KTSCOPE_LOCK_DIR" in c["lock-dir"]["fix"]'

# The toolchain: nothing in PATH fails each tool with install commands; a pahole
# older than 1.16 fails by version.
mkdir "$tmp/bin"
printf '#!/bin/sh\necho v1.15\n' >"$tmp/bin/pahole"
chmod +x "$tmp/bin/pahole"
run_capture "${nobus[@]}" PATH="$tmp/bin" "$KTSCOPE" --user doctor --json
cp "$tmp/o" "$tmp/tc.json"
kts_check "empty PATH: make, c-compiler, flex, bison, bc fail with install hints, exit 4" \
	eval '[ $rc = 4 ] && json_check "$tmp/tc.json" "all(c[n][\"status\"] == \"fail\" and
		\"apt install\" in c[n][\"fix\"] and \"dnf install\" in c[n][\"fix\"]
		for n in (\"make\", \"c-compiler\", \"flex\", \"bison\", \"bc\"))"'
kts_check "pahole v1.15 fails: older than 1.16" \
	json_check "$tmp/tc.json" 'c["pahole"]["status"] == "fail" and "1.15" in c["pahole"]["detail"]
		and "1.16" in c["pahole"]["detail"]'

# The compile engines: ccache missing or older than 4.7.3 warns, never fails; distcc
# is "not configured" without DISTCC_HOSTS, and with it a host that does not answer
# (a closed port on 127.0.0.1) or a bad entry warns by name.
kts_check "no ccache in PATH: a warning with install hints, not a failure" \
	json_check "$tmp/tc.json" 'c["ccache"]["status"] == "warn" and "not found" in
		c["ccache"]["detail"] and "apt install ccache" in c["ccache"]["fix"]'
mkdir "$tmp/cc-old"
printf '#!/bin/sh\necho "ccache version 4.7.2"\n' >"$tmp/cc-old/ccache"
chmod +x "$tmp/cc-old/ccache"
run_capture "${nobus[@]}" PATH="$tmp/cc-old:$PATH" "$KTSCOPE" --user doctor --json
kts_check "ccache 4.7.2 warns: older than 4.7.3" \
	json_check "$tmp/o" 'c["ccache"]["status"] == "warn" and "4.7.2" in c["ccache"]["detail"]
		and "4.7.3" in c["ccache"]["detail"]'
run_capture "${nobus[@]}" DISTCC_HOSTS= "$KTSCOPE" --user doctor --json
kts_check "DISTCC_HOSTS unset: distcc is ok, not configured" \
	json_check "$tmp/o" 'c["distcc"]["status"] == "ok" and
		c["distcc"]["detail"].startswith("not configured")'
closed=$(kts_free_port)
run_capture "${nobus[@]}" DISTCC_HOSTS="127.0.0.1:$closed/3" "$KTSCOPE" --user doctor --json
kts_check "a distcc host that does not answer warns by name (doctor exit status unchanged)" \
	json_check "$tmp/o" "c['distcc']['status'] == 'warn' and
		'127.0.0.1:$closed: connection refused' in c['distcc']['detail']"
run_capture "${nobus[@]}" DISTCC_HOSTS="good/2 bad/0" "$KTSCOPE" --user doctor --json
kts_check "a bad DISTCC_HOSTS entry warns naming it" \
	json_check "$tmp/o" 'c["distcc"]["status"] == "warn" and "bad/0" in c["distcc"]["detail"]'

# ---- the confined user manager ----------------------------------------------------
kts_run_inside "$N_INSIDE" "$0" --inside
[ $kts_nfail = 0 ]
