#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 5: memory binding. With every LLC of node 0 held exclusively by a foreign
# (ktstr-style flock) holder, a 2-CPU reservation lands on node 1, and a process that
# touches 64 MiB inside the scope has it on node 1: through the cgroup's
# AllowedMemoryNodes= under the system manager, and through MPOL_BIND where the user
# manager only gets affinity enforcement.
. "$KTS_VM_CHECKS/lib.sh"

mib=64
run_capture "$KTSCOPE" topology --json
mapfile -t node0_locks < <(jq -r '.llcs[] | select(.node == 0) | .lockfile' <<<"$out")
mapfile -t node1_cpus < <(jq -r '.nodes[] | select(.node == 1) | .cpus[]' <<<"$out")
if ((${#node0_locks[@]} == 0 || ${#node1_cpus[@]} < 2)); then
	not_ok "the guest has LLCs on node 0 and 2 CPUs on node 1"
	diag "$out"
	done_testing
fi
want_cpus=${node1_cpus[0]}-${node1_cpus[1]}

held=0
for f in "${node0_locks[@]}"; do
	hold_lock "$f" -x && held=$((held + 1))
done
is "a foreign flock -x holds each of node 0's ${#node0_locks[@]} LLC lock(s)" "$held" \
	"${#node0_locks[@]}"

# assert_on_node1 WHO: the probe's anonymous memory is (nearly) all on node 1.
assert_on_node1() {
	local n0 n1
	n0=$(probe_value anon_kb_node0)
	n1=$(probe_value anon_kb_node1)
	is "$1: touched $mib MiB" "$(probe_value touched)" "$mib"
	check "$1: at least $((mib - 4)) MiB of anonymous memory on node 1 (${n1:-0} kB)" \
		test "${n1:-0}" -ge $(((mib - 4) * 1024))
	check "$1: under 4 MiB of it on node 0 (${n0:-0} kB)" test "${n0:-0}" -lt 4096
}

run_capture "$KTSCOPE" run --system --cpu-cap 2 -- "$PROBE" --alloc "$mib"
is "system: run exits 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "system: the plan is node 1 (AllowedMemoryNodes=1)" "$(placement nodes)" 1
is "system: enforcement cgroup" "$(placement enforcement)" cgroup
is "system: COMMAND's CPUs are node 1's first two" "$(probe_value cpus)" "$want_cpus"
is "system: COMMAND's Mems_allowed_list is node 1" "$(probe_value mems)" 1
assert_on_node1 system

if wait_until 90 user_manager_ready; then
	run_capture as_user "$KTSCOPE" run --cpu-cap 2 -- "$PROBE" --alloc "$mib"
	is "user: run exits 0" "$rc" 0
	[[ $rc -eq 0 ]] || diag "$err"
	is "user: the plan is node 1" "$(placement nodes)" 1
	diag "user manager enforcement: $(placement enforcement)"
	assert_on_node1 "user ($(placement enforcement))"
else
	not_ok "the lingering user's manager (user@$KTS_UID.service) is running"
fi

release_bg
check "the foreign holders are gone" locks_free
done_testing
