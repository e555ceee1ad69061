#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# README and ktscope-kernel(1) claims about the cache listing and pruning, on the real CLI:
# `kernel list` marks an entry built with another kconfig fragment `stale` (and one with no
# fragment recorded `untracked`), and `kernel clean --older-than DAYS` removes the entries
# built more than DAYS days of 24 hours ago, keeps the newer ones, and with --keep N removes
# only what both select. Entries are real builds of the fake kernel tree in the confined
# systemd user manager (one per run of this script), aged and re-dated through the fields the
# CLI reads (metadata.json's built_at and fragment_sha256). Private cache and lock directories.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
command -v git >/dev/null || kts_skip_all "'git' not found"
kts_reexec_inside_manager "$here/kernel-cmds.sh" "$@"

work=$(mktemp -d /tmp/ktscope-kernel-cmds.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
	FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
trap 'rm -rf "$work"' EXIT

KL() { "$KTSCOPE" kernel "$@"; }
# build NAME: a committed git tree of the fake kernel, built; prints its cache key.
build() {
	local t=$work/$1
	kts_fake_tree "$t" "$1" >/dev/null || return 1
	"$KTSCOPE" --user build --source "$t" >"$work/$1.out" 2>"$work/$1.err" ||
		{ kts_diag "build of $1 failed: $(tail -n 5 "$work/$1.err")"; return 1; }
	basename "$(dirname "$(tail -n 1 "$work/$1.out")")"
}
# edit KEY PYSTMT: runs PYSTMT on the entry's metadata.json (m) and writes it back.
edit() {
	"$KTS_PYTHON" - "$KTSCOPE_CACHE_DIR/kernels/$1/metadata.json" "$2" <<'EOF'
import json, sys, time
p = sys.argv[1]
m = json.load(open(p))
def ago(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))
exec(sys.argv[2])
json.dump(m, open(p, "w"), indent=2)
EOF
}
has() { [ -d "$KTSCOPE_CACHE_DIR/kernels/$1" ]; }
status_of() {
	KL list --json | "$KTS_PYTHON" -c '
import json, sys
print({e["key"]: e["status"] for e in json.load(sys.stdin)["entries"]}.get(sys.argv[1]))' "$1"
}

kts_plan 13

k1=$(build t1) && k2=$(build t2) && k3=$(build t3) && k4=$(build t4) ||
	{ echo "Bail out! the fake kernel did not build"; exit 99; }
day=86400

# ---- stale and untracked --------------------------------------------------------------------
kts_check "a fresh entry is listed as matches" grep -qE "^$k1 +matches " <(KL list)
current=$(KL list --json | "$KTS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["fragment_sha256"])')
kts_check "the recorded fragment is the one 'kernel list --json' reports as current" \
	test "$(edit "$k1" 'print(m["fragment_sha256"])')" = "$current"
# As if built by a ktscope whose embedded fragment was another one.
edit "$k1" 'm["fragment_sha256"] = "0" * 64'
KL list >"$work/list1.out"
kts_check "an entry built with another fragment is listed as stale" \
	grep -qE "^$k1 +stale " "$work/list1.out"
kts_check "… and only that one: the others still match" \
	eval "grep -qE '^$k2 +matches ' '$work/list1.out' && [ \$(grep -c ' stale ' '$work/list1.out') = 1 ]"
kts_check "kernel list --json: status stale" test "$(status_of "$k1")" = stale
edit "$k2" 'm["fragment_sha256"] = None'
kts_check "an entry with no fragment recorded is listed as untracked" \
	grep -qE "^$k2 +untracked " <(KL list)

# ---- clean --older-than -----------------------------------------------------------------------
# k1 30 days and an hour old, k2 an hour short of 30 days, k3 10 days, k4 new.
edit "$k1" "m['built_at'] = ago(30 * $day + 3600)"
edit "$k2" "m['built_at'] = ago(30 * $day - 3600)"
edit "$k3" "m['built_at'] = ago(10 * $day)"
KL clean --older-than 30 --dry-run >"$work/c1.out" 2>&1
kts_check "clean --older-than 30 --dry-run selects only the entry built more than 30 days ago" \
	test "$(cat "$work/c1.out")" = "would remove $k1"
KL clean --older-than 30 --force >"$work/c2.out" 2>&1
rc=$?
kts_check "clean --older-than 30 --force: exit 0, the 30-days-and-an-hour-old entry is gone" \
	eval "[ $rc = 0 ] && ! has '$k1'"
kts_check "… the one an hour short of 30 days (days of 24 hours) and the newer ones stay" \
	eval "has '$k2' && has '$k3' && has '$k4'"
KL clean --older-than 5 --keep 2 --dry-run >"$work/c3.out" 2>&1
kts_check "--older-than 5 --keep 2: only what both select (k2: old and not among the 2 newest)" \
	test "$(cat "$work/c3.out")" = "would remove $k2"
KL clean --older-than 5 --dry-run >"$work/c4.out" 2>&1
kts_check "--older-than 5 alone selects both entries older than 5 days, newest first" \
	test "$(cat "$work/c4.out")" = "would remove $k3
would remove $k2"
KL clean --older-than 0 --keep 3 --force >/dev/null 2>&1
kts_check "--older-than 0 --keep 3 with three entries removes nothing" \
	eval "has '$k2' && has '$k3' && has '$k4'"
kts_expect 2 "--older-than" "--older-than with a non-number: exit 2, naming the option" \
	KL clean --older-than soon --force

kts_done 2>/dev/null || exit $((kts_nfail > 0))
