#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The test harness's own checks, so that they can be seen to fail: tests/run-test.sh
# names and kills a process a test left behind (and passes a clean test's status
# through), tests/skip-check tells allowed skips from unlisted ones and refuses a
# malformed allowlist, and manager.sh removes the cgroups of a harness that was killed
# before its teardown (a process in them stopped first), not those of a live one.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
top=${KTS_TOP_SRCDIR:-$here/../..}

work=$(mktemp -d)
cg_planted=()
cleanup() {
	local d
	kill -KILL $(cat "$work"/pid* 2>/dev/null) 2>/dev/null
	[ -s "$work/pid-live" ] && kill -KILL -- "-$(cat "$work/pid-live")" 2>/dev/null # its group
	for d in "${cg_planted[@]}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

kts_plan 10

# ---- run-test.sh
log=$work/selftest.log
kts_capture env KTS_TEST_LOG="$log" bash "$top/tests/run-test.sh" sh -c 'exit 3'
kts_check "run-test.sh: a test that leaves nothing keeps its exit status (3); its log's last line says how long it took" \
	eval '[ "$rc" = 3 ] && [[ $out =~ ^"# run-test: sh took "[0-9]+" s"$ ]]'
kts_capture env KTS_TEST_LOG="$log" bash "$top/tests/run-test.sh" sh -c \
	"setsid sleep 300 </dev/null >/dev/null 2>&1 & echo \$! >'$work/pid'; echo 'ok 1 - x'"
left=$(cat "$work/pid")
kts_check "run-test.sh: a process left behind is a Bail out! naming it, exit 99" \
	eval '[ "$rc" = 99 ] && grep -q "^Bail out! 1 process" <<<"$out" &&
	      grep -q "^# stray pid $left (from $log): sleep 300" <<<"$out"'
kts_check "run-test.sh: … and it is killed" kts_wait_until 5 eval "! kill -0 $left 2>/dev/null"

# ---- skip-check
printf '# comment\n\ndistcheck tests/integration/e2e.sh run once per CI\n* * hooks not compiled\n' \
	>"$work/allow"
printf 'PASS: tests/integration/cli.sh 1 - a\nSKIP: tests/integration/e2e.sh - run once per CI run\n' \
	>"$work/dist.log"
printf 'SKIP: tests/integration/x.sh 2 - b # SKIP hooks not compiled in\nok 3 - c # SKIP no zsh\n' \
	>"$work/vm.log"
kts_capture bash "$top/tests/skip-check" "$work/allow" distcheck="$work/dist.log"
kts_check "skip-check: a listed skip (step, test, reason) is allowed: exit 0" \
	eval '[ "$rc" = 0 ] && grep -qx "allowed skip in distcheck: tests/integration/e2e.sh - run once per CI run" <<<"$out"'
kts_capture bash "$top/tests/skip-check" "$work/allow" check="$work/dist.log"
kts_check "skip-check: the same skip in another step is unlisted: exit 1 naming it" \
	eval '[ "$rc" = 1 ] && grep -q "^unlisted skip in check: tests/integration/e2e.sh" <<<"$out"'
kts_capture bash "$top/tests/skip-check" "$work/allow" check-vm="$work/vm.log"
kts_check "skip-check: a wildcard entry allows; a plain TAP skip is named after its step" \
	eval '[ "$rc" = 1 ] && grep -q "^allowed skip in check-vm: tests/integration/x.sh" <<<"$out" &&
	      grep -q "^unlisted skip in check-vm: check-vm ok 3 - c # SKIP no zsh" <<<"$out"'
echo "distcheck e2e" >"$work/bad"
kts_capture bash "$top/tests/skip-check" "$work/bad" distcheck="$work/dist.log"
kts_check "skip-check: a malformed allowlist line: exit 2 naming it" \
	eval '[ "$rc" = 2 ] && grep -q "not \"STEP TEST REASON-REGEX\": distcheck e2e" <<<"$out"'
# ---- manager.sh: the cgroups of a harness killed before its teardown
# The cgroup roots manager.sh confines itself under (the unified one; name=systemd too on a
# hybrid host), or none where it cannot run.
cg_roots=()
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	cg_roots=(/sys/fs/cgroup)
elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	cg_roots=(/sys/fs/cgroup/unified)
	[ -d /sys/fs/cgroup/systemd ] && cg_roots+=(/sys/fs/cgroup/systemd)
fi
if [ "$(id -u)" != 0 ] || [ ${#cg_roots[@]} = 0 ] || ! grep -qx '0::/' /proc/self/cgroup; then
	for d in "a stale harness's cgroups are removed" "… the process in them stopped" \
		"a live harness's cgroup is left alone"; do
		kts_skip "manager.sh: $d" "needs root in the root cgroup of a cgroup2 host"
	done
else
	# A harness that is gone: the PID of a process that ended; a nested cgroup, and in it a
	# process of ours. A live one: a process whose command line names manager.sh.
	gone=$(sh -c 'echo $$')
	setsid sleep 300 </dev/null >/dev/null 2>&1 &
	echo $! >"$work/pid-stale"
	setsid bash -c 'sleep 300; :' manager.sh </dev/null >/dev/null 2>&1 &
	live=$!
	echo "$live" >"$work/pid-live"
	for r in "${cg_roots[@]}"; do
		mkdir -p "$r/ktscope-test.$gone/child" "$r/ktscope-test.$live"
		cg_planted+=("$r/ktscope-test.$gone" "$r/ktscope-test.$live")
		echo "$(cat "$work/pid-stale")" >"$r/ktscope-test.$gone/child/cgroup.procs"
	done
	kts_capture bash "$top/tests/integration/manager.sh" run-inside true
	stale_left=0
	for r in "${cg_roots[@]}"; do [ -d "$r/ktscope-test.$gone" ] && stale_left=1; done
	kts_check "manager.sh: a stale harness's cgroups are removed (pid $gone; run-inside exits 0)" \
		eval '[ "$rc" = 0 ] && [ $stale_left = 0 ]'
	kts_check "manager.sh: … the process in them stopped" \
		kts_wait_until 5 eval '! kill -0 "$(cat "$work/pid-stale")" 2>/dev/null'
	kts_check "manager.sh: a live harness's cgroup is left alone" test -d "${cg_roots[0]}/ktscope-test.$live"
fi
[ $kts_nfail = 0 ]
