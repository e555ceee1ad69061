#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 1: the system manager (root) enforces the reservation with the cgroup.
# A 2-CPU budget on an idle machine is LLC 0 on either topology: CPUs 0-1, node 0
# (hand-derived from tests/vm/run's -smp/-numa lines, not from ktscope).
. "$KTS_VM_CHECKS/lib.sh"

outside=3 # a CPU outside the plan on both topologies

run_capture "$KTSCOPE" run --system --cpu-cap 2 -- "$PROBE" "$outside"
is "run --system --cpu-cap 2 exits with COMMAND's status" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "placement line: CPUs 0-1" "$(placement cpus)" 0-1
is "placement line: LLC 0" "$(placement llcs)" 0
is "placement line: node 0" "$(placement nodes)" 0
is "placement line: enforcement cgroup" "$(placement enforcement)" cgroup
is "COMMAND's Cpus_allowed_list is the plan" "$(probe_value cpus)" 0-1
is "COMMAND's Mems_allowed_list is the plan" "$(probe_value mems)" 0
like "COMMAND runs in a ktscope scope under ktscope.slice" "$(probe_value cgroup)" \
	'^/ktscope\.slice/ktscope-run-[0-9]+-[^/]+\.scope$'
is "the scope's cpuset.cpus.effective is the plan" "$(probe_value eff_cpus)" 0-1
is "the scope's cpuset.mems.effective is the plan" "$(probe_value eff_mems)" 0
check "taskset -c $outside inside the scope is refused" taskset_refused
check "the unit is gone after the run" no_ktscope_units
check "the LLC locks are released after the run" locks_free

# --enforce cgroup succeeds where the cgroup enforces.
run_capture "$KTSCOPE" run --system --cpu-cap 2 --enforce cgroup -- "$PROBE"
is "--enforce cgroup: exit 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "--enforce cgroup: enforcement cgroup" "$(placement enforcement)" cgroup
is "--enforce cgroup: cpuset.cpus.effective is the plan" "$(probe_value eff_cpus)" 0-1

# Exit status passthrough through the scope.
run_capture "$KTSCOPE" run --system --cpu-cap 2 -- sh -c 'exit 7'
is "COMMAND's exit status 7 passes through" "$rc" 7

# narrowed (README "Enforcement"): a parent slice allows fewer CPUs than the plan, so the
# scope's effective cpuset is a strict subset of it; ktscope warns and runs there, and
# --enforce cgroup refuses it (exit 4). The slice's property is runtime-only, reverted after.
if systemctl set-property --runtime ktscope.slice AllowedCPUs=0; then
	run_capture "$KTSCOPE" run --system --cpu-cap 2 -- "$PROBE"
	is "narrowed: exit 0" "$rc" 0
	like "narrowed: a warning names the slice's CPUs" "$err" \
		"warning: a parent slice narrowed '[^']+' to CPUs 0, nodes 0; running there"
	like "narrowed: the placement line gives the narrowed CPUs and cgroup (narrowed)" "$err" \
		"unit [^ ]+ cpus 0 .*enforcement cgroup \\(narrowed\\)"
	is "narrowed: COMMAND's effective CPUs are the slice's" "$(probe_value eff_cpus)" 0
	run_capture "$KTSCOPE" run --system --cpu-cap 2 --enforce cgroup -- "$PROBE"
	is "narrowed with --enforce cgroup: exit 4" "$rc" 4
	like "narrowed with --enforce cgroup: the error says so" "$err" \
		"a parent slice narrowed .* and --enforce cgroup was given"
	systemctl revert ktscope.slice >/dev/null 2>&1
	check "narrowed: the slice's AllowedCPUs is reverted" \
		test -z "$(systemctl show -p AllowedCPUs --value ktscope.slice)"
else
	not_ok "narrowed: systemctl set-property --runtime ktscope.slice AllowedCPUs=0 failed"
fi

done_testing
