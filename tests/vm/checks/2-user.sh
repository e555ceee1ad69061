#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 2: the lingering user 'kts' and its user manager as the distribution ships it
# (user@.service: Delegate=pids memory cpu, no cpuset). The scope starts, but the
# cgroup does not enforce AllowedCPUs=: ktscope falls back to affinity, says so and
# points at 'ktscope doctor'; --enforce cgroup refuses with exit 4.
. "$KTS_VM_CHECKS/lib.sh"

if ! wait_until 90 user_manager_ready; then
	not_ok "the lingering user's manager (user@$KTS_UID.service) is running"
	systemctl status "user@$KTS_UID.service" 2>&1 | sed 's/^/# /'
	done_testing
fi
ok "the lingering user's manager is running"
mgr=/sys/fs/cgroup/user.slice/user-$KTS_UID.slice/user@$KTS_UID.service
check "the stock user manager has no cpuset controller delegated" \
	bash -c '! grep -qw cpuset "$1/cgroup.controllers"' _ "$mgr"

run_capture as_user "$KTSCOPE" run --cpu-cap 2 -- "$PROBE" 3
is "run --cpu-cap 2 as the user: exit 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "placement: enforcement affinity" "$(placement enforcement)" affinity
is "placement: CPUs 0-1" "$(placement cpus)" 0-1
like "the notice names 'ktscope doctor'" "$err" "ktscope doctor"
is "COMMAND's Cpus_allowed_list is the plan (affinity)" "$(probe_value cpus)" 0-1
like "COMMAND runs in a scope of the user's manager" "$(probe_value cgroup)" \
	"^/user\.slice/user-$KTS_UID\.slice/user@$KTS_UID\.service/(.*/)?ktscope\.slice/ktscope-run-[0-9]+-[^/]+\.scope\$"
is "the scope has no cpuset.cpus.effective (not enforced by the cgroup)" \
	"$(probe_value eff_cpus)" absent
check "the unit is gone after the run" no_ktscope_units --user
check "the LLC locks are released after the run" locks_free

run_capture as_user "$KTSCOPE" run --cpu-cap 2 --enforce cgroup -- true
is "--enforce cgroup on the stock user manager: exit 4" "$rc" 4
like "--enforce cgroup: the error says the cgroup does not enforce and names doctor" "$err" \
	"error: .*does not enforce.*ktscope doctor"
check "--enforce cgroup: no unit is left" no_ktscope_units --user
check "--enforce cgroup: the LLC locks are released" locks_free

# ktscope doctor (man ktscope-doctor: --json, check "cpu-enforcement"). A doctor that
# prints nothing, or crashes, fails here: it is implemented, so nothing is skipped.
run_capture as_user "$KTSCOPE" doctor --json
enf=$(jq -c '.checks[] | select(.name == "cpu-enforcement")' <<<"$out" 2>/dev/null)
check "doctor --json exits 0 or 4 (4: a check failed) with a cpu-enforcement check" \
	bash -c '[[ ($1 == 0 || $1 == 4) && -n $2 ]]' _ "$rc" "$enf"
is "doctor: cpu-enforcement is a warning" "$(jq -r .status <<<"$enf" 2>/dev/null)" warn
like "doctor: the detail says affinity, no cpuset" "$(jq -r .detail <<<"$enf" 2>/dev/null)" \
	'affinity.*cpuset|cpuset.*affinity'
fix=$(jq -r .fix <<<"$enf" 2>/dev/null)
like "doctor: the fix installs the ktscope-cpuset.conf drop-in" "$fix" \
	'user@\.service\.d/ktscope-cpuset\.conf'
like "doctor: the fix restarts user@$KTS_UID.service" "$fix" "restart user@$KTS_UID\.service"
[[ -n $enf ]] || diag "doctor --json (exit $rc): $out" "$err"

done_testing
