#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The last test of `make check` (tests/Makemodule.am makes its log depend on every
# other test's log, also under `make check -j`): no process a test of this suite
# started is still alive. Every test runs with KTS_TEST_SUITE={build dir} in its
# environment (AM_TESTS_ENVIRONMENT), which its children inherit; a live process with
# that marker outside this script's own run is a stray, named with the test that
# started it (KTS_TEST_LOG), then killed (it is ours). tests/run-test.sh does the same
# for each test as it ends; this catches what got past it.
# Test 1 plants a stray and finds it: the check itself can fail.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

marker=${KTS_TEST_SUITE:-}
[ -n "$marker" ] || kts_skip_all "KTS_TEST_SUITE is not set (run through 'make check')"

# The shell make started for this test: it and everything below it are this run.
top=$(kts_marked_top "KTS_TEST_SUITE=$marker")
strays() { kts_marked "KTS_TEST_SUITE=$marker" "$top"; }

kts_plan 2

# 1. The check can fail: a planted stray (its parent gone, its own session) is found.
tmp=$(mktemp)
trap 'kill -KILL "$(cat "$tmp" 2>/dev/null)" 2>/dev/null; rm -f "$tmp"' EXIT
(
	KTS_TEST_LOG=zz-strays-self-check setsid sleep 300 </dev/null >/dev/null 2>&1 &
	echo $! >"$tmp"
)
planted=$(cat "$tmp")
kts_wait_until 10 eval 'grep -qx "$planted" <<<"$(strays)"'
kts_check "a planted stray (pid $planted, its parent gone) is found" \
	eval 'grep -qx "$planted" <<<"$(strays)"'
kill -KILL "$planted" 2>/dev/null

# 2. The real check, after a grace for signals sent by the last EXIT traps.
named=
for _ in $(seq 25); do
	named=
	for p in $(strays); do
		[ "$(kts_env_of "$p" KTS_TEST_LOG)" = zz-strays-self-check ] && continue
		named="$named$p "
	done
	[ -z "$named" ] && break
	sleep 0.2
done
kts_check "no process started by a test of this suite is still alive" test -z "$named"
for p in $named; do
	kts_diag "stray $(kts_describe "$p") (killed now)"
	kill -KILL "$p" 2>/dev/null
done
[ $kts_nfail = 0 ]
