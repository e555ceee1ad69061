# SPDX-License-Identifier: GPL-2.0-or-later
# The real kernel's scheduler-kit checks (issue 14), for tests/integration/e2e.sh, which
# sources this after tests/integration/lib.sh (kts_ok, kts_not_ok, kts_check, kts_diag,
# KTSCOPE). Each function gives a fixed number of TAP results, whatever happens, so that
# e2e's plan stays right:
#   scx_entry_checks ENTRY KEY BUILD_STDERR   4  after the cold build: the entry's files,
#                                                the manifest's basics, the telemetry
#   scx_source_checks ENTRY TREE              2  the manifest against the tree's ext.c
#   scx_guest_checks ENTRY                    13 tests/scx/run-guest on the entry
scx_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # e2e.sh's plan adds them up
scx_n_entry=4 scx_n_source=2 scx_n_guest=13

# scx_manifest_list ENTRY ops|kfuncs: the manifest's list, one name a line
scx_manifest_list() {
	python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[sys.argv[2]]))' \
		"$1/capabilities.json" "$2"
}

scx_entry_checks() {
	local entry=$1 key=$2 err=$3 summary show
	kts_check "the entry has vmlinux.h and capabilities.json" \
		test -s "$entry/vmlinux.h" -a -s "$entry/capabilities.json"
	kts_check "the manifest lists select_cpu, enqueue, dispatch, init, exit and an insert kfunc" \
		python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
missing = [o for o in ("select_cpu", "enqueue", "dispatch", "init", "exit") if o not in m["ops"]]
if not m["sched_ext"] or missing:
	sys.exit("capabilities.json: ops missing: %s" % missing)
if not {"scx_bpf_dispatch", "scx_bpf_dsq_insert"} & set(m["kfuncs"]):
	sys.exit("capabilities.json: neither scx_bpf_dispatch nor scx_bpf_dsq_insert in kfuncs")
' "$entry/capabilities.json"
	kts_diag "$(grep -m1 'capabilities: ' "$err" || echo 'no capabilities line printed')"
	# the summary the build printed ("...telemetry: user 1,512 s, sys 190 s, ...")
	summary=$(sed -n 's/^.*telemetry: *//p' "$err" | tail -n 1)
	kts_diag "telemetry: ${summary:-none printed}"
	kts_check "the build printed its telemetry line (user N s)" \
		grep -qE 'user [0-9][0-9,.]* s' <<<"$summary"
	show=$("$KTSCOPE" kernel show "$key" 2>&1)
	kts_diag "kernel show: $(grep -i telemetry <<<"$show" || echo "no telemetry line")"
	if { [ -n "$summary" ] && grep -qF -- "$summary" <<<"$show"; } ||
		grep -qiE 'telemetry.*user [0-9][0-9,.]* s' <<<"$show"; then
		kts_ok "kernel show KEY prints the telemetry"
	else
		kts_not_ok "kernel show KEY prints the telemetry"
	fi
}

# scx_same_list DESC ENTRY TREE ops|kfuncs: one result, the manifest's list against ext.c's
# (ops in declaration order; kfuncs sorted on both sides)
scx_same_list() {
	local desc=$1 entry=$2 tree=$3 what=$4 mine d
	mine=$(scx_manifest_list "$entry" "$what")
	[ "$what" = kfuncs ] && mine=$(LC_ALL=C sort -u <<<"$mine")
	if d=$(diff <(printf '%s\n' "$mine") <(bash "$scx_dir/ext-api" "$tree" "$what") 2>&1); then
		kts_ok "$desc"
	else
		kts_not_ok "$desc"
		kts_diag "manifest (<) against ext.c (>): $d"
	fi
}

scx_source_checks() {
	local n
	n=$(bash "$scx_dir/ext-api" "$2" ops | wc -l)
	scx_same_list "the manifest's ops are the $n members of struct sched_ext_ops in ext.c" \
		"$1" "$2" ops
	n=$(bash "$scx_dir/ext-api" "$2" kfuncs | wc -l)
	scx_same_list "the manifest's kfuncs are the $n BTF_ID_FLAGS(func, scx_bpf_*) of ext.c" \
		"$1" "$2" kfuncs
}

# run-guest's TAP folded in as "guest: ..."; a skip (CI=true: a failure), a bail-out or a
# result that never came counts as each missing result.
scx_guest_checks() {
	local out rc n=0 line reason
	out=$(mktemp) || { kts_not_ok "guest: mktemp failed"; return; }
	bash "$scx_dir/run-guest" "$1" >"$out" 2>&1
	rc=$?
	if grep -q '^1\.\.0 # SKIP' "$out"; then
		reason=$(sed -n 's/^1\.\.0 # SKIP //p' "$out")
		while [ $n -lt $scx_n_guest ]; do
			n=$((n + 1))
			kts_skip "guest: check $n" "$reason"
		done
	else
		while IFS= read -r line; do
			case $line in
			"ok "*) kts_ok "guest: ${line#ok [0-9]* - }"; n=$((n + 1)) ;;
			"not ok "*) kts_not_ok "guest: ${line#not ok [0-9]* - }"; n=$((n + 1)) ;;
			"# "*) kts_diag "guest: ${line#\# }" ;;
			1..*) ;;
			*) kts_diag "guest: $line" ;;
			esac
		done <"$out"
		if [ $n != $scx_n_guest ] || { [ $rc != 0 ] && [ $rc != 1 ]; }; then
			kts_diag "run-guest exited $rc after $n of $scx_n_guest results"
		fi
		while [ $n -lt $scx_n_guest ]; do
			n=$((n + 1))
			kts_not_ok "guest: result $n missing"
		done
	fi
	rm -f "$out"
}
