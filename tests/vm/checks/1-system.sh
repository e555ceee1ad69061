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

done_testing
