#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The dirty re-check of a local tree (src/build-recheck.c), in the real confined user
# manager, on the fake kernel tree, paused at a step by the test hooks (src/testhook.h):
#   - it runs as soon as make is done, while the scope goes on (paused at the strip): its
#     phase event comes before the strip is let go, and an edit made after make does not
#     cost the entry, which is the tree make built;
#   - an edit made before make ends is seen: built, not cached, the reason printed;
#   - with --headers (make headers_install reads the tree after make) it waits for the end
#     of the scope, so an edit while the strip is paused is seen;
#   - a make that fails leaves no re-check and nothing in {cache}/.tmp (the FIFO included).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
kts_need_test_hooks
kts_reexec_inside_manager "$here/recheck.sh" "$@"
set -m
kts_hook_sandbox recheck

tmp_empty() { [ -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp" 2>/dev/null)" ]; }
# entry_of TREE: the cache entry of TREE's clean HEAD ("" when there is none)
entry_of() {
	ls "$KTSCOPE_CACHE_DIR/kernels" 2>/dev/null |
		grep "^local-$(git -C "$1" rev-parse HEAD | cut -c1-12)-" | head -n 1
}
# line_of FILE PHASE STATE: the line number of that phase event in FILE (0: none)
line_of() {
	local n
	n=$(grep -n "\"event\":\"phase\".*\"phase\":\"$2\",\"state\":\"$3\"" "$1" | head -n 1)
	echo "${n%%:*}" | sed 's/^$/0/'
}

# paused_build NAME STEP [ARGS...]: a --json-events build of a new tree paused at STEP;
# sets T (the tree), bpid and out/err; 1 when it never paused.
paused_build() {
	local name=$1 step=$2
	shift 2
	T=$(kts_fake_tree "$work/$name" "$name") # its own commit: its own key
	out=$work/$name.out err=$work/$name.err
	KTSCOPE_TEST_HOOK=$step:pause "$KTSCOPE" --user build --json-events --source "$T" "$@" \
		>"$out" 2>"$err" &
	bpid=$!
	bg_pids+=($bpid)
	kts_wait_until 60 test -s "$KTSCOPE_TEST_HOOK_DIR/$step.paused"
}

# not_paused N WHY: the N checks of a case that never paused fail, with the build's stderr.
not_paused() {
	local i
	for ((i = 0; i < $1; i++)); do kts_not_ok "$2"; done
	kts_diag "$(tail -5 "$err")"
}

# resume STEP: lets the paused step go on and waits for the build; sets rc.
resume() {
	rm -f "$KTSCOPE_TEST_HOOK_DIR/$1.paused"
	wait "$bpid"
	rc=$?
}

kts_plan 11

# ---- 1. after make, while the strip waits: re-checked already, an edit costs nothing -----
if paused_build t1 strip; then
	# The parent re-checks on make's byte; give it the time a status walk takes.
	kts_wait_until 20 grep -q '"phase":"recheck","state":"end"' "$out"
	kts_check "the re-check ended while the scope was paused at the strip, after make" \
		eval '[ "$(line_of "$out" make end)" -gt 0 ] &&
		      [ "$(line_of "$out" recheck end)" -gt "$(line_of "$out" make end)" ] &&
		      ! grep -q "\"event\":\"result\"" "$out"'
	echo "/* edited after make */" >>"$T/fake.c"
	resume strip
	kts_check "the build ends (exit 0)" test "$rc" = 0
	kts_check "… and is cached: the edit came after make, which built the committed tree" \
		eval '! grep -q "not cached" "$err" && [ -n "$(entry_of "$T")" ] &&
		      grep -q "\"status\":\"built\",\"cached\":true" "$out"'
	kts_check "the entry records the re-check's time" \
		"$KTS_PYTHON" -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["phases"]["recheck"] > 0, m["phases"]' \
		"$KTSCOPE_CACHE_DIR/kernels/$(entry_of "$T")/metadata.json"
	kts_check "nothing is left in {cache}/.tmp (no FIFO)" tmp_empty
else
	not_paused 5 "the build never paused at the strip"
fi

# ---- 2. an edit before make ends: built, not cached ------------------------------------------
if paused_build t2 make; then
	echo "/* edited before make */" >>"$T/fake.c"
	resume make
	kts_check "a tree edited before make still builds (exit 0)" test "$rc" = 0
	kts_check "… but is not cached, and the reason is printed" \
		eval 'grep -q "not cached: the tree changed during the build" "$err" &&
		      [ -z "$(entry_of "$T")" ] && grep -q "\"cached\":false" "$out"'
else
	not_paused 2 "the build never paused at make"
fi

# ---- 3. --headers: the re-check waits for the end of the scope -------------------------------
if paused_build t3 strip --headers; then
	kts_check "with --headers, no re-check while the scope runs" \
		eval '! grep -q "\"phase\":\"recheck\"" "$out"'
	echo "/* edited after make, before headers_install */" >>"$T/fake.c"
	resume strip
	kts_check "… and the edit is seen: built (exit 0), not cached" \
		eval '[ "$rc" = 0 ] && grep -q "not cached: the tree changed during the build" "$err" &&
		      [ -z "$(entry_of "$T")" ]'
else
	not_paused 2 "the --headers build never paused at the strip"
fi

# ---- 4. make fails: no re-check, nothing left ---------------------------------------------
T=$(kts_fake_tree "$work/t4" t4)
FAKE_KERNEL_FAIL=1 "$KTSCOPE" --user build --json-events --source "$T" >"$work/t4.out" \
	2>"$work/t4.err"
rc=$?
kts_check "a make that fails fails the build (exit 1)" test "$rc" = 1
kts_check "… without a re-check, and nothing is left in {cache}/.tmp" \
	eval '! grep -q "\"phase\":\"recheck\"" "$work/t4.out" && tmp_empty'
