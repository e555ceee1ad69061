#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 3: the project's own units/user@.service.d/ drop-in delegates cpuset to user
# managers. Installed, and user@UID restarted, the same user's run is enforced by
# the cgroup. This check changes the guest for good: run it after checks 2 and 5.
. "$KTS_VM_CHECKS/lib.sh"

dropin_dir=$KTS_TOP_SRCDIR/units/user@.service.d
mapfile -t dropins < <(find "$dropin_dir" -maxdepth 1 -name '*.conf' 2>/dev/null | sort)
if ((${#dropins[@]} == 0)); then
	not_ok "the user@.service.d drop-in is in the tree ($dropin_dir/*.conf)"
	done_testing
fi

install -d /etc/systemd/system/user@.service.d
install -m 0644 "${dropins[@]}" /etc/systemd/system/user@.service.d/
systemctl daemon-reload
check "user@$KTS_UID.service restarts with the drop-in" systemctl restart "user@$KTS_UID.service"
check "the user's manager is back" wait_until 90 user_manager_ready
mgr=/sys/fs/cgroup/user.slice/user-$KTS_UID.slice/user@$KTS_UID.service
check "the user manager now has the cpuset controller" grep -qw cpuset "$mgr/cgroup.controllers"

run_capture as_user "$KTSCOPE" run --cpu-cap 2 -- "$PROBE" 3
is "run --cpu-cap 2 as the user: exit 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "placement: enforcement cgroup" "$(placement enforcement)" cgroup
is "placement: CPUs 0-1, node 0" "$(placement cpus) $(placement nodes)" "0-1 0"
check "no notice pointing at doctor" bash -c '! grep -q "ktscope doctor" <<<"$1"' _ "$err"
is "COMMAND's Cpus_allowed_list is the plan" "$(probe_value cpus)" 0-1
is "COMMAND's Mems_allowed_list is the plan" "$(probe_value mems)" 0
is "the scope's cpuset.cpus.effective is the plan" "$(probe_value eff_cpus)" 0-1
is "the scope's cpuset.mems.effective is the plan" "$(probe_value eff_mems)" 0
check "taskset -c 3 inside the user's scope is refused" taskset_refused

run_capture as_user "$KTSCOPE" run --cpu-cap 2 --enforce cgroup -- true
is "--enforce cgroup as the user: exit 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
check "no unit is left" no_ktscope_units --user
check "the LLC locks are released" locks_free

# A doctor that prints nothing, or crashes, fails here (no skip: it is implemented).
run_capture as_user "$KTSCOPE" doctor --json
enf=$(jq -c '.checks[] | select(.name == "cpu-enforcement")' <<<"$out" 2>/dev/null)
check "doctor --json exits 0 or 4 (4: a check failed) with a cpu-enforcement check" \
	bash -c '[[ ($1 == 0 || $1 == 4) && -n $2 ]]' _ "$rc" "$enf"
is "doctor: cpu-enforcement is ok now" "$(jq -r .status <<<"$enf" 2>/dev/null)" ok
like "doctor: the detail says cgroup" "$(jq -r .detail <<<"$enf" 2>/dev/null)" cgroup
[[ -n $enf ]] || diag "doctor --json (exit $rc): $out" "$err"

done_testing
