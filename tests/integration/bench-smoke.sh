#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The kernel benchmarks of `make bench-kernel` on the fake kernel tree, one round each, in
# the confined systemd user manager (seconds; the numbers mean nothing, the plumbing is
# what is checked): bench/cache-hit, bench/edit-loop and bench/build-overhead run to the
# end and each records its rows (PASS or MISS) in the results file; edit-loop leaves the
# edited file as it was; build-overhead's by-hand pipeline ran every step (base,
# merge_config, olddefconfig, make, compile_commands, strip) with ktscope's stamps; the
# summary shows the recorded rows and SKIP for the others; bad input is one line naming it.
# shellcheck disable=SC2154 # kts_nfail: lib.sh
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
command -v git >/dev/null || kts_skip_all "'git' not found"
strip_one=${KTS_TOP_BUILDDIR:-$(dirname "$KTSCOPE")}/bench/strip-one
[ -x "$strip_one" ] || kts_skip_all "no '$strip_one' (make check builds it)"
kts_reexec_inside_manager "$here/bench-smoke.sh" "$@"

bench=$KTS_TOP_SRCDIR/bench
work=$(mktemp -d /tmp/ktscope-bench-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
export BENCH_RESULTS=$work/results.tsv BENCH_IDLE_MAX=0 BENCH_IDLE_BUDGET=0 STRIP_ONE=$strip_one
# two objects per build instead of 8: each script builds the fake tree 2 to 4 times
export FAKE_KERNEL_OBJECTS=2
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
	FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE

# The fake tree plus what the real one has and the fake lacks: merge_config.sh (-m: merge
# only) and kernel/sched/ext.c, committed.
T=$(kts_fake_tree "$work/tree")
mkdir -p "$T/scripts/kconfig" "$T/kernel/sched"
cat >"$T/scripts/kconfig/merge_config.sh" <<'EOF'
#!/bin/sh
# merge_config.sh -m BASE FRAGMENT...: BASE and the fragments into .config (later wins)
[ "$1" = -m ] && shift
base=$1
shift
cat "$base" "$@" >.config.merged && mv .config.merged .config
EOF
chmod +x "$T/scripts/kconfig/merge_config.sh"
printf '/* the fake sched_ext */\nint scx;\n' >"$T/kernel/sched/ext.c"
git -C "$T" add -A && git -C "$T" -c user.name=t -c user.email=t@t commit -qm bench

kts_plan 13
row() { awk -F '\t' -v n="$1" '$2 == n && ($5 == "PASS" || $5 == "MISS" || $5 == "INFO") { f = 1 } END { exit !f }' "$BENCH_RESULTS"; }

bash "$bench/cache-hit" --rounds 1 "$T" >"$work/cache-hit.out" 2>&1
rc=$?
kts_check "cache-hit runs one round on the fake tree (exit $rc)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/cache-hit.out")"
kts_check "cache-hit records cache-hit-git" row cache-hit-git
# the git program answers for the fake tree: its processes are a phase, not the start-up's
kts_check "cache-hit's phases give the git program's time (> 0 ms) and no libgit2 time" \
	eval "grep -qE '^  git program \(rev-parse, status\) +[0-9.]*[1-9][0-9.]* ' '$work/cache-hit.out' &&
		grep -qE '^  libgit2 \(HEAD, index, work tree\) +0\.0 ' '$work/cache-hit.out'"

cp -p "$T/kernel/sched/ext.c" "$work/ext.c"
bash "$bench/edit-loop" --rounds 1 "$T" >"$work/edit-loop.out" 2>&1
rc=$?
kts_check "edit-loop runs one round on the fake tree (exit $rc)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/edit-loop.out")"
kts_check "edit-loop records edit-loop with ktscope's phases per round" \
	eval 'row edit-loop && grep -qE "^  make +[0-9.]+ +[0-9.]+$" "$work/edit-loop.out"'
kts_check "edit-loop leaves kernel/sched/ext.c as it was, mtime too" \
	eval 'cmp -s "$work/ext.c" "$T/kernel/sched/ext.c" && [ "$(stat -c %Y "$work/ext.c")" = "$(stat -c %Y "$T/kernel/sched/ext.c")" ]'

bash "$bench/build-overhead" --rounds 1 "$T" >"$work/build-overhead.out" 2>&1
rc=$?
kts_check "build-overhead runs one round on the fake tree (exit $rc)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 20 "$work/build-overhead.out")"
kts_check "build-overhead records build-wall, build-cpu and parent-peak-rss" \
	eval 'row build-wall && row build-cpu && row parent-peak-rss'
kts_check "the by-hand pipeline ran every step" \
	eval 'for s in base merge_config olddefconfig make compile_commands strip; do
		grep -qE "^  $s +[0-9.]+ " "$work/build-overhead.out" || exit 1; done'
kts_check "the by-hand side used the entry's stamps" \
	grep -q 'by hand with KBUILD_BUILD_TIMESTAMP=.* KBUILD_BUILD_USER=ktscope' "$work/build-overhead.out"

summary=$(bash "$bench/summary")
kts_check "the summary shows the measured rows and SKIP for the others" \
	eval 'grep -qE "^edit-build loop.* (PASS|MISS) " <<<"$summary" &&
		grep -qE "^scope round trip.* SKIP .*\(run: make bench\)" <<<"$summary"'
[ $kts_nfail = 0 ] || kts_diag "$summary"

kts_expect 1 "no file '$T/kernel/nope.c' to edit" "edit-loop names a file that is not there" \
	bash "$bench/edit-loop" --file kernel/nope.c "$T"
kts_expect 2 "--rounds wants a positive number, not 'x'" "build-overhead refuses a bad --rounds" \
	bash "$bench/build-overhead" --rounds x "$T"
[ $kts_nfail = 0 ]
