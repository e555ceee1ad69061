#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 4: topology and planning on a real kernel's sysfs, with 2 or 4 LLCs on 2 nodes.
# Every expected value is derived by hand from tests/vm/run's -smp/-numa lines:
#   2llc: LLC 0 = CPUs 0-1 (node 0), LLC 1 = CPUs 2-3 (node 1)
#   4llc: LLCs 0-3 = CPUs 0-1, 2-3 (node 0), 4-5, 6-7 (node 1)
#   node distances 10 local, 21 remote
. "$KTS_VM_CHECKS/lib.sh"

case $TOPOLOGY in
2llc)
	want_llcs='[{"index":0,"cpus":[0,1],"node":0},{"index":1,"cpus":[2,3],"node":1}]'
	want_nodes='[{"node":0,"cpus":[0,1],"distances":[10,21]},{"node":1,"cpus":[2,3],"distances":[21,10]}]'
	online='[0,1,2,3]'
	fit=2 fit_cpus=0-1 fit_llcs=0
	spill=3 spill_cpus=0-2 spill_llcs=0,1
	# LLC 0 held exclusively: a 2-CPU shared plan takes LLC 1, on node 1.
	around_cpus=2-3 around_llcs=1 around_nodes=1
	;;
4llc)
	want_llcs='[{"index":0,"cpus":[0,1],"node":0},{"index":1,"cpus":[2,3],"node":0},{"index":2,"cpus":[4,5],"node":1},{"index":3,"cpus":[6,7],"node":1}]'
	want_nodes='[{"node":0,"cpus":[0,1,2,3],"distances":[10,21]},{"node":1,"cpus":[4,5,6,7],"distances":[21,10]}]'
	online='[0,1,2,3,4,5,6,7]'
	fit=4 fit_cpus=0-3 fit_llcs=0-1
	spill=6 spill_cpus=0-5 spill_llcs=0-2
	# LLC 0 held exclusively: the 2-CPU plan takes LLC 1, still on node 0.
	around_cpus=2-3 around_llcs=1 around_nodes=0
	;;
*)
	not_ok "unknown topology '$TOPOLOGY'"
	done_testing
	;;
esac

# jq's compact list form of a kernel-style CPU list, for comparing JSON arrays.
list_to_json() {
	local items=() parts part
	IFS=, read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ $part == *-* ]]; then
			mapfile -t -O "${#items[@]}" items < <(seq "${part%-*}" "${part#*-}")
		else
			items+=("$part")
		fi
	done
	(IFS=,; echo "[${items[*]}]")
}

run_capture "$KTSCOPE" topology --json
is "topology --json exits 0" "$rc" 0
is "online CPUs" "$(jq -c .online_cpus <<<"$out")" "$online"
is "LLCs: index, CPUs and node of each" \
	"$(jq -c '[.llcs[] | {index, cpus, node}]' <<<"$out")" "$want_llcs"
is "nodes: CPUs and distances of each (read from sysfs: 21, not the fallback 20)" \
	"$(jq -c '[.nodes[] | {node, cpus, distances}]' <<<"$out")" "$want_nodes"

# A budget that fits one node stays on it.
run_capture "$KTSCOPE" topology --json --cpu-cap "$fit"
is "--cpu-cap $fit plan: CPUs $fit_cpus" "$(jq -c .plan.cpus <<<"$out")" "$(list_to_json $fit_cpus)"
is "--cpu-cap $fit plan: LLCs $fit_llcs" "$(jq -c .plan.llcs <<<"$out")" "$(list_to_json $fit_llcs)"
is "--cpu-cap $fit plan: one node (0)" "$(jq -c '[.plan.mems, .plan.cross_node]' <<<"$out")" \
	'[[0],false]'
run_capture "$KTSCOPE" run --system --cpu-cap "$fit" -- "$PROBE"
is "run --cpu-cap $fit: exit 0" "$rc" 0
is "run --cpu-cap $fit: COMMAND's CPUs" "$(probe_value cpus)" "$fit_cpus"
is "run --cpu-cap $fit: COMMAND's memory nodes" "$(probe_value mems)" 0
check "run --cpu-cap $fit: no cross-node warning" \
	bash -c '! grep -q "spans NUMA nodes" <<<"$1"' _ "$err"

# One that does not fit spills to the other node, and says so.
run_capture "$KTSCOPE" topology --json --cpu-cap "$spill"
is "--cpu-cap $spill plan: CPUs $spill_cpus" "$(jq -c .plan.cpus <<<"$out")" \
	"$(list_to_json $spill_cpus)"
is "--cpu-cap $spill plan: LLCs $spill_llcs" "$(jq -c .plan.llcs <<<"$out")" \
	"$(list_to_json $spill_llcs)"
is "--cpu-cap $spill plan: both nodes, cross_node" \
	"$(jq -c '[.plan.mems, .plan.cross_node]' <<<"$out")" '[[0,1],true]'
run_capture "$KTSCOPE" run --system --cpu-cap "$spill" -- "$PROBE"
is "run --cpu-cap $spill: exit 0" "$rc" 0
like "run --cpu-cap $spill: warns that the reservation spans nodes 0-1" "$err" \
	'warning: .*spans NUMA nodes 0-1'
is "run --cpu-cap $spill: COMMAND's CPUs" "$(probe_value cpus)" "$spill_cpus"
is "run --cpu-cap $spill: COMMAND's memory nodes" "$(probe_value mems)" 0-1
is "run --cpu-cap $spill: the scope's effective cpuset" "$(probe_value eff_cpus)" "$spill_cpus"

# An exclusive run held in the background: shared plans route around its LLC.
release=$(release_file)
"$KTSCOPE" run --system --exclusive=1 -- \
	sh -c "while [ ! -e '$release' ]; do sleep 0.1; done" 2>"$release.err" &
excl=$!
_lib_bg+=("$excl")
held() { [[ $("$KTSCOPE" locks --json | jq -r '.llcs[0].holders[]?.mode') == exclusive ]]; }
check "run --exclusive=1 holds LLC 0 exclusively (locks --json)" wait_until 60 held
run_capture "$KTSCOPE" topology --json --cpu-cap 2
is "LLC 0 lists the exclusive holder's pid" \
	"$(jq -r '[.llcs[0].holders[] | select(.mode == "exclusive") | .pid] | length' <<<"$out")" 1
is "with LLC 0 held, the 2-CPU plan takes LLC $around_llcs" "$(jq -c .plan.llcs <<<"$out")" \
	"[$around_llcs]"
is "with LLC 0 held, the plan's CPUs are $around_cpus" "$(jq -c .plan.cpus <<<"$out")" \
	"$(list_to_json $around_cpus)"
run_capture "$KTSCOPE" run --system --cpu-cap 2 --no-wait -- "$PROBE" 0
is "shared run beside it: exit 0 without waiting" "$rc" 0
[[ $rc -eq 0 ]] || diag "$err"
is "shared run beside it: placement LLC $around_llcs" "$(placement llcs)" "$around_llcs"
is "shared run beside it: COMMAND's CPUs" "$(probe_value cpus)" "$around_cpus"
is "shared run beside it: COMMAND's memory nodes" "$(probe_value mems)" "$around_nodes"
check "shared run beside it: taskset onto the held LLC is refused" taskset_refused
run_capture "$KTSCOPE" run --system --exclusive=2 --no-wait -- true
if [[ $TOPOLOGY == 2llc ]]; then
	is "a second --exclusive=2 cannot have LLC 0: exit 3 with --no-wait" "$rc" 3
	like "... naming what holds it" "$err" 'held: .*'
else
	is "a second --exclusive=2 takes the two free LLCs" "$rc" 0
fi
: >"$release"
wait "$excl"
is "the exclusive run ends with its COMMAND's status" "$?" 0
_lib_bg=()
like "the exclusive run's placement was LLC 0, CPUs 0-1" "$(cat "$release.err")" \
	'cpus 0-1 llcs 0 nodes 0 enforcement cgroup'
rm -f "$release.err"
check "all LLC locks are free afterwards" locks_free
check "no ktscope unit is left" no_ktscope_units

done_testing
