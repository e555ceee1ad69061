#!/usr/bin/env bash
# CLI behaviour of `ktscope topology` / `ktscope locks` and bad input: exit codes
# and one-line messages naming the offending value. Real flock(1) holders.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
K=$KTSCOPE
DATA=${KTS_TOP_SRCDIR:-$here/../..}/tests/data/sysfs
work=$(mktemp -d)
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir -p "$KTSCOPE_LOCK_DIR"
unset KTSCOPE_CPU_CAP KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS

json() { "$KTS_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# hold MODE FILE: a real flock(1) process holding FILE until killed (-F: flock becomes
# the sleep, no orphan), in its own process group; its pid in held_pid
hold() {
	local mode=$1 file=$2
	kts_bg flock -F "-$mode" "$file" sleep 300
	local pid=$kts_bg_pid
	for _ in $(seq 50); do
		grep -q "FLOCK.* $pid " /proc/locks && break
		sleep 0.1
	done
	held_pid=$pid
}

kts_plan 35

# --- help and version
kts_expect 0 '' "--help exits 0" "$K" --help
kts_expect 0 '' "--version exits 0" "$K" --version
kts_expect 0 '' "topology --help exits 0" "$K" topology --help
kts_expect 0 '' "locks --help exits 0" "$K" locks --help
kts_expect 2 "^ktscope: .*unknown option '--frobnicate'" "unknown global flag: exit 2 naming it" "$K" --frobnicate topology
kts_expect 2 "unknown option '--bogus'" "unknown topology flag: exit 2 naming it" "$K" topology --bogus
kts_expect 2 "unknown command 'frob'" "unknown command: exit 2 naming it" "$K" frob
kts_expect 2 "needs a value" "--cpu-cap without a value: exit 2" "$K" topology --cpu-cap

# --- budget values
S2=$DATA/vm-2cpu-1llc
kts_expect 2 "'0'" "--cpu-cap 0 rejected naming 0" "$K" topology --sysroot "$S2" --cpu-cap 0
kts_expect 2 "'-1'" "--cpu-cap -1 rejected naming -1" "$K" topology --sysroot "$S2" --cpu-cap -1
kts_expect 2 "'abc'" "--cpu-cap abc rejected naming abc" "$K" topology --sysroot "$S2" --cpu-cap abc
kts_expect 2 "'99999999999'" "--cpu-cap 99999999999 rejected naming it" "$K" topology --sysroot "$S2" --cpu-cap 99999999999
kts_expect 2 "3 .*2 CPUs" "--cpu-cap above the allowed CPUs names both numbers" "$K" topology --sysroot "$S2" --cpu-cap 3
kts_expect 2 "KTSCOPE_CPU_CAP 'x'" "KTSCOPE_CPU_CAP=x rejected naming it" env KTSCOPE_CPU_CAP=x "$K" topology --sysroot "$S2"
kts_expect 0 '' "--cpu-cap beats an invalid KTSCOPE_CPU_CAP" env KTSCOPE_CPU_CAP=x "$K" topology --sysroot "$S2" --cpu-cap 1
kts_expect 2 "'0'" "--exclusive=0 rejected" "$K" topology --sysroot "$S2" --exclusive=0
kts_expect 2 "conflict" "--exclusive=K with --cpu-cap rejected" "$K" topology --sysroot "$S2" --exclusive=1 --cpu-cap 1

kts_capture env KTSCOPE_CPU_CAP= "$K" topology --sysroot "$S2" --json
kts_check "empty KTSCOPE_CPU_CAP counts as unset (default budget 1 of 2)" \
	test "$rc" = 0 -a "$(json 'd["plan"]["target_cpus"]' <<<"$out")" = 1

# --- sysroot errors name the file
kts_expect 4 "nonexistent" "missing sysroot: exit 4 naming it" "$K" topology --sysroot "$work/nonexistent"
kts_expect 4 "malformed .*cpu/online" "malformed sysfs file: exit 4 naming the file" "$K" topology --sysroot "$DATA/malformed"
mkdir -p "$work/empty-root"
kts_expect 4 "cpu/online" "sysroot without sysfs: exit 4 naming the missing file" "$K" topology --sysroot "$work/empty-root"
kts_expect 4 "nonexistent" "KTSCOPE_SYSROOT is honoured" env KTSCOPE_SYSROOT="$work/nonexistent" "$K" topology

# --- JSON shape on a snapshot
S4=$DATA/2s-2llc-4cpu
kts_capture "$K" topology --sysroot "$S4" --json --cpu-cap 6
kts_check "topology --json on 2s-2llc-4cpu has the documented keys" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("sysroot", "online_cpus", "allowed_cpus", "nodes", "llcs", "plan", "plan_error"):
    assert k in d, k
assert d["online_cpus"] == list(range(16)), d["online_cpus"]
assert len(d["llcs"]) == 4 and len(d["nodes"]) == 2
l = d["llcs"][0]
for k in ("index", "cpus", "node", "lockfile", "holders"):
    assert k in l, k
assert l["lockfile"].endswith("/ktstr-llc-0.lock")
p = d["plan"]
for k in ("mode", "target_cpus", "llcs", "cpus", "mems", "make_jobs", "cross_node"):
    assert k in p, k
assert p["mode"] == "shared" and p["target_cpus"] == 6 and len(p["cpus"]) == 6
assert p["make_jobs"] == 6 and d["plan_error"] is None
assert d["nodes"][0]["distances"][0] == 10
' "$out"

# --- a real exclusive holder on LLC 2 of the synthetic 4-LLC machine
hold x "$KTSCOPE_LOCK_DIR/ktstr-llc-2.lock"
xpid=$held_pid
kts_capture "$K" topology --sysroot "$S4" --json --cpu-cap 16
kts_check "a budget needing every LLC cannot be planned while LLC 2 is held: exit 3" test "$rc" = 3
kts_check "plan is null and plan_error says why" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["plan"] is None and d["plan_error"], d
' "$out"
kts_capture "$K" topology --sysroot "$S4" --json --exclusive=3
kts_check "--exclusive=3 routes around the held LLC 2" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["plan"]["llcs"] == [0, 1, 3], d["plan"]
assert d["plan"]["mode"] == "exclusive"
' "$out"
kts_check "holder of LLC 2 reported with pid and exclusive mode" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1]); pid = int(sys.argv[2])
h = d["llcs"][2]["holders"]
assert len(h) == 1 and h[0]["pid"] == pid and h[0]["mode"] == "exclusive", h
assert "sleep 300" in h[0]["cmdline"] or "flock" in h[0]["cmdline"], h
' "$out" "$xpid"

kts_capture "$K" topology --sysroot "$S4"
kts_check "human topology output lists the holder pid" grep -q "$xpid exclusive" <<<"$out"
kts_check "human topology output has the LLC table header" grep -qE '^LLC +ID +NODE +CPUS' <<<"$out"

# --- shared holders are consolidated onto
hold s "$KTSCOPE_LOCK_DIR/ktstr-llc-3.lock"
kts_capture "$K" topology --sysroot "$S4" --json --cpu-cap 2
kts_check "a shared plan joins the LLC that already has a shared holder" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["plan"]["llcs"] == [3], d["plan"]
assert d["llcs"][3]["holders"][0]["mode"] == "shared"
' "$out"

# --- locks
kts_capture "$K" locks --json
kts_check "locks --json lists both held lock files with their holders" "$KTS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
by = {l["llc"]: l for l in d["llcs"]}
assert by[2]["holders"][0]["mode"] == "exclusive", by
assert by[3]["holders"][0]["mode"] == "shared", by
' "$out"
kts_capture "$K" locks
kts_check "locks text output prints '(none)' for the empty cache section" grep -q "(none)" <<<"$out"
kts_expect 4 "lock directory" "unreadable lock directory: exit 4" env KTSCOPE_LOCK_DIR="$work/nope" "$K" locks

# --- the host itself
kts_capture "$K" topology --json
kts_check "host topology: default plan is max(1, ceil(30%)) of the allowed CPUs" "$KTS_PYTHON" -c '
import json, sys, math
d = json.loads(sys.argv[1])
n = len(d["allowed_cpus"])
assert d["plan"]["target_cpus"] == max(1, math.ceil(n * 0.3)), d["plan"]
assert len(d["llcs"]) >= 1
' "$out"
kts_check "host topology --json exits 0" test "$rc" = 0

[ $kts_nfail = 0 ]
