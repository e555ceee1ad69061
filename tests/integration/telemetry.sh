#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build telemetry (ktscope-build(1), TELEMETRY) on the fake kernel tree in the confined
# systemd user manager: a build prints one "telemetry:" line, its metadata.json records the
# numbers with their sources (CPU time and a peak > 0) and the phases (make > 0), the
# --json-events "telemetry" event comes just before the result; a cache hit says nothing of
# the kind; and under KTSCOPE_SCOPE=none the cgroup, which is not the build's, is not read
# (getrusage only, the peak labelled "(largest process)", no pressure).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
command -v git >/dev/null || kts_skip_all "'git' not found"
kts_reexec_inside_manager "$here/telemetry.sh" "$@"

work=$(mktemp -d /tmp/ktscope-telemetry.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
	FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
trap 'rm -rf "$work"' EXIT

B() { "$KTSCOPE" --user build "$@"; }
# meta ENTRY PYTHON: runs PYTHON with m = ENTRY's metadata.json
meta() {
	"$KTS_PYTHON" -c "import json, sys
m = json.load(open(sys.argv[1] + '/metadata.json'))
$2" "$1"
}

kts_plan 12

# ---- 1. in the scope: the cgroup's numbers -------------------------------------------------
T=$(kts_fake_tree "$work/t1")
# The bus watched: a build asks for the scope's accounting and reads it back (run does not).
kts_bus_monitor_start "$work/b1.mon" && mon=1 || mon=0
B --source "$T" --json-events >"$work/b1.out" 2>"$work/b1.err"
rc=$?
if [ $mon = 1 ]; then
	kts_bus_monitor_stop "$work/b1.mon"
	calls=$(kts_bus_calls "$work/b1.mon" | tr '\n' ' ')
	kts_diag "the build's calls: $calls"
	kts_check "the build's scope asks for CPU/Memory/IOAccounting and reads them back" eval \
		"grep -q 'StartTransientUnit:[A-Za-z]*,CPUAccounting,MemoryAccounting,IOAccounting ' \
		<<<'$calls' && grep -q 'Get:CPUUsageNSec' <<<'$calls'"
else
	kts_skip "the build's scope asks for accounting" "dbus-monitor missing or not starting"
fi
kts_check "the fake tree builds (exit 0)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -20 "$work/b1.err")"
line=$(grep '^ktscope: telemetry: ' "$work/b1.err")
kts_diag "${line:-no telemetry line}"
kts_check "one telemetry line: user N s, sys N s, peak N UNIT" \
	eval "[ \"\$(grep -c '^ktscope: telemetry: ' '$work/b1.err')\" = 1 ] &&
	grep -qE '^ktscope: telemetry: user [0-9][0-9,.]* s, sys [0-9][0-9,.]* s, peak [0-9][0-9,.]* (B|KiB|MiB|GiB)' <<<'$line'"
entry=$("$KTS_PYTHON" -c '
import json, os, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "result":
        print(os.path.dirname(e["image"]))' "$work/b1.out")
kts_diag "telemetry: $(meta "$entry" 'print(json.dumps(m.get("telemetry")))' 2>&1)"
kts_diag "phases: $(meta "$entry" 'print(json.dumps(m.get("phases")))' 2>&1)"
kts_check "metadata.json: CPU time > 0 from the scope's cgroup, user + sys from cpu.stat" meta "$entry" '
t = m["telemetry"]
assert t["cpu_usec"]["value"] > 0 and t["cpu_usec"]["source"] == "cgroup", t
assert t["user_usec"]["source"] == t["system_usec"]["source"] == "cgroup", t
assert t["wall_seconds"] > 0, t'
kts_check "metadata.json: a peak > 0 (this host: no memory.peak, the largest process)" meta "$entry" '
p = m["telemetry"]["memory_peak"]
assert p["value"] > 0 and p["source"] in ("cgroup", "manager", "rusage"), p'
kts_check "metadata.json: the CPU pressure is the cgroup's, where PSI is on" meta "$entry" '
import os
t = m["telemetry"]
psi = os.path.exists("/proc/pressure/cpu")
assert ("cpu_pressure_usec" in t) == psi, (psi, t)
assert not psi or t["cpu_pressure_usec"]["source"] == "cgroup", t'
kts_check "metadata.json: phases source, lock_wait, configure, make > 0, compile_commands > 0, strip, the kit's, recheck; no store" \
	meta "$entry" '
p = m["phases"]
assert p["make"] > 0 and p["compile_commands"] > 0, p
assert all(k in p for k in ("source", "lock_wait", "configure", "strip", "vmlinux_h",
                            "capabilities", "recheck")), p
assert "store" not in p and "headers" not in p, p'
kts_check "--json-events: a telemetry event with the numbers and the phases, then the result" \
	"$KTS_PYTHON" -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = [e["event"] for e in ev]
assert kinds[-2:] == ["telemetry", "result"], kinds
t = ev[-2]
assert t["telemetry"]["cpu_usec"]["value"] > 0 and t["phases"]["make"] > 0, t
assert t["phases"]["store"] >= 0, t["phases"]' "$work/b1.out"

# ---- 2. a cache hit ran no make: no telemetry ------------------------------------------------
B --source "$T" >"$work/b2.out" 2>"$work/b2.err"
rc=$?
kts_check "a cache hit prints no telemetry line" \
	eval "[ $rc = 0 ] && grep -q '^ktscope: cached: ' '$work/b2.err' &&
	! grep -q telemetry '$work/b2.err'"

# ---- 3. KTSCOPE_SCOPE=none: the cgroup is not the build's ------------------------------------
T3=$(kts_fake_tree "$work/t3")
KTSCOPE_SCOPE=none B --source "$T3" >"$work/b3.out" 2>"$work/b3.err"
rc=$?
kts_check "KTSCOPE_SCOPE=none builds (exit 0)" test $rc = 0
line3=$(grep '^ktscope: telemetry: ' "$work/b3.err")
kts_diag "${line3:-no telemetry line}"
kts_check "KTSCOPE_SCOPE=none: the peak is labelled (largest process), no pressure" \
	eval "grep -qE ', peak [0-9][0-9,.]* (B|KiB|MiB|GiB) \\(largest process\\)\$' <<<'$line3' &&
	! grep -q pressure <<<'$line3'"
kts_check "KTSCOPE_SCOPE=none: metadata.json has rusage numbers only, no cgroup file read" \
	meta "$(dirname "$(tail -n 1 "$work/b3.out")")" '
t = m["telemetry"]
assert {v["source"] for k, v in t.items() if k != "wall_seconds"} == {"rusage"}, t
assert t["cpu_usec"]["value"] > 0 and t["memory_peak"]["value"] > 0, t
assert not any(k.endswith("pressure_usec") for k in t), t'
