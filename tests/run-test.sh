#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/run-test.sh TEST [ARG...]: how `make check` runs every test (LOG_COMPILER in
# tests/Makemodule.am). Runs TEST with its exit status; then, when TEST has exited, no
# process it started may still be alive: such a process is found by its environment
# (KTS_TEST_LOG, from AM_TESTS_ENVIRONMENT: the absolute path of this test's log, so
# unique to this build tree while other trees may run the same test at the same time),
# named in a TAP "Bail out!" (an ERROR for automake) and killed. Without this, a
# leftover holding the test's stdout keeps the TAP driver, and `make check`, waiting.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/integration/lib.sh"

# cmocka 1.1 prints a skipped test as "not ok N # SKIP", which automake counts as a FAIL:
# on its way to the TAP driver such a line becomes "ok N # SKIP" (under CI=true,
# test_need() fails before it skips, and run-all.sh checks every skip on its allowlist).
fifo_dir=$(mktemp -d "${TMPDIR:-/tmp}/kts-run-test.XXXXXX") || exit 99
mkfifo "$fifo_dir/out" || exit 99
sed -u -E 's/^not ok ([0-9]+)(.*# SKIP)/ok \1\2/' <"$fifo_dir/out" &
filter=$!
t0=$SECONDS
"$@" >"$fifo_dir/out"
rc=$?
rm -rf "$fifo_dir"
# finish TEST RC: the test's last lines, then how long it took (a TAP comment: run-all.sh lists
# the slowest tests of each step from these), and RC.
finish() {
	wait "$filter"
	echo "# run-test: ${1##*/} took $((SECONDS - t0)) s"
	exit "$2"
}
# Only an absolute log path is this tree's own (a relative one is shared by every tree).
case ${KTS_TEST_LOG:-} in /*) ;; *) finish "$1" $rc ;; esac

# Below the shell make started for this test run only the TAP driver, this script and
# the test; a process the test left behind has been re-parented away from there.
top=$(kts_marked_top "KTS_TEST_LOG=$KTS_TEST_LOG")
# A grace for the signals the test's EXIT trap sent to still be delivered.
for _ in $(seq 15); do
	left=$(kts_marked "KTS_TEST_LOG=$KTS_TEST_LOG" "$top")
	[ -z "$left" ] && finish "$1" $rc
	sleep 0.2
done
strays=()
for p in $left; do
	strays+=("# stray $(kts_describe "$p")")
done
# shellcheck disable=SC2086 # a list of pids
kill -KILL $left 2>/dev/null
# the test's last lines first: the filter ends once no stray holds its input any more
wait "$filter"
printf '%s\n' "${strays[@]}"
echo "Bail out! ${#strays[@]} process(es) started by this test still alive after it exited (killed now)"
exit 99
