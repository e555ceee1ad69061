#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Check 6: `ktscope build` under the system manager runs make and its compilers in the
# build's scope, with the cgroup's cpuset. A committed copy of the fake kernel tree
# (tests/data/fake-kernel) is built with --cpu-cap 2 while this check reads, from
# outside, the /proc/PID/status and /proc/PID/cgroup of every make and compiler
# process in the guest; fakecc.log adds each compiler invocation's own view. (The copy
# is cached only while the fake tree's .gitignore covers every file its build writes.)
# The plan is hand-derived as in check 1: a 2-CPU budget on an idle machine is LLC 0
# on either topology, CPUs 0-1, node 0, make -j2.
. "$KTS_VM_CHECKS/lib.sh"

want_cpus=0-1 want_mems=0 jobs=2 outside=3
objects=4   # FAKE_KERNEL_OBJECTS: 4 compiles + the vmlinux link = 5 compiler runs
sleep_s=1   # FAKE_KERNEL_SLEEP per object: make -j2 lasts 2 s and more (much more under TCG)
cc_sleep=0.5 # FAKECC_SLEEP: every compiler process lives that long, even under KVM
scope_re='^/ktscope\.slice/ktscope-build-[0-9]+-[^/ ]+\.scope$'

work=$(mktemp -d /var/tmp/kts-build.XXXXXX)
T=$work/fake-kernel
export KTSCOPE_CACHE_DIR=$work/cache
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_LOCK_DIR KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_FAIL

cp -r "$KTS_TOP_SRCDIR/tests/data/fake-kernel" "$T" && chmod -R u+w "$T" &&
	git -C "$T" init -q && git -C "$T" add -A &&
	git -C "$T" -c user.name=kts -c user.email=kts@localhost commit -qm fake
check "a committed git copy of the fake kernel tree" test -n "$(git -C "$T" rev-parse -q --verify HEAD)"

# The processes of a build, by the name the kernel gives them (comm): make, and what
# make runs to compile and link (scripts/fakecc execs cc, gcc's driver; cc1, as,
# collect2, ld under it). The guest runs nothing else that has these names, except
# ktscope's own toolchain probe: `cc --version`, `ld --version`, `make --version` run
# by the parent before the reservation (DESIGN.md §6, the fingerprint), not a build.
is_make() { [[ $1 == make ]]; }
is_compiler() { [[ $1 =~ ^(fakecc|cc|gcc|cc1|as|collect2|ld)$ ]]; }

# scan: one pass over /proc with shell builtins only (a compiler lives for a fraction
# of a second). Each build process is recorded once per (pid, name) in $seen, as
# "name=N pid=P cpus=C mems=M cgroup=G eff_cpus=E eff_mems=F cmd=ARGS"; a process that
# ends while it is read, or has ended (a zombie), is skipped. So is one that is exiting:
# its memory is gone before it is a zombie, and its cmdline reads empty then (the
# parent's `cc --version` caught at its end would otherwise count as a compiler).
declare -A seen=()
scan() {
	local f pid comm k v state cpus mems cg ec em args
	for f in /proc/[0-9]*/comm; do
		read -r comm 2>/dev/null <"$f" || continue
		is_make "$comm" || is_compiler "$comm" || continue
		pid=${f#/proc/}
		pid=${pid%/comm}
		[[ -z ${seen[$pid/$comm]:-} ]] || continue
		state='' cpus='' mems='' cg='' ec=absent em=absent args=()
		while IFS=$':\t' read -r k v; do
			case $k in
			State) state=$v ;;
			Cpus_allowed_list) cpus=$v ;;
			Mems_allowed_list) mems=$v ;;
			esac
		done 2>/dev/null <"/proc/$pid/status"
		read -r cg 2>/dev/null <"/proc/$pid/cgroup"
		cg=${cg#0::}
		mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline"
		((${#args[@]} > 0)) || continue
		[[ ${#args[@]} -eq 2 && ${args[1]} == --version ]] && continue
		[[ -n $cpus && -n $mems && -n $cg && $state != Z* ]] || continue
		[[ -r /sys/fs/cgroup$cg/cpuset.cpus.effective ]] &&
			read -r ec <"/sys/fs/cgroup$cg/cpuset.cpus.effective"
		[[ -r /sys/fs/cgroup$cg/cpuset.mems.effective ]] &&
			read -r em <"/sys/fs/cgroup$cg/cpuset.mems.effective"
		seen[$pid/$comm]="name=$comm pid=$pid cpus=$cpus mems=$mems cgroup=$cg eff_cpus=$ec eff_mems=$em cmd=${args[*]}"
		# Once, on the first make inside a scope: may a process of the scope leave it?
		if [[ -z ${taskset_rc:-} && $comm == make && $cg =~ $scope_re ]]; then
			taskset -pc "$outside" "$pid" >/dev/null 2>&1
			taskset_rc=$?
		fi
	done
}

# The build in the background; this shell watches it until it ends (bounded).
exec {tick}<> <(:) # read -t on a pipe nobody writes: a sleep without a fork
FAKECC_SLEEP=$cc_sleep FAKE_KERNEL_SLEEP=$sleep_s FAKE_KERNEL_OBJECTS=$objects \
	"$KTSCOPE" --system build --source "$T" --cpu-cap 2 >"$work/out" 2>"$work/err" &
build=$!
_lib_bg+=("$build")
start=$SECONDS deadline=$((SECONDS + 180))
while kill -0 "$build" 2>/dev/null && ((SECONDS < deadline)); do
	scan
	read -r -t 0.02 -u "$tick"
done
kill -0 "$build" 2>/dev/null && { diag "the build is still running after 180 s"; kill -TERM "$build"; }
wait "$build"
rc=$?
_lib_bg=()
out=$(cat "$work/out") err=$(cat "$work/err")
diag "the build took $((SECONDS - start)) s"

is "build --system --cpu-cap 2 exits 0" "$rc" 0
[[ $rc -eq 0 ]] || diag "$(tail -n 20 "$work/err")"
is "placement line: CPUs 0-1" "$(placement cpus)" "$want_cpus"
is "placement line: LLC 0" "$(placement llcs)" 0
is "placement line: node 0" "$(placement nodes)" "$want_mems"
is "placement line: enforcement cgroup" "$(placement enforcement)" cgroup
like "the build says it was cached, made with -j$jobs under cgroup enforcement" "$err" \
	"built and cached local-[0-9a-f]{12}-[^ ]+ in .*\(make -j$jobs, enforcement cgroup\)"

# What the watcher saw while the build ran.
: >"$work/seen"
((${#seen[@]} == 0)) || printf '%s\n' "${seen[@]}" | sort >"$work/seen"
field() { sed -nE "s/.* $1=([^ ]*).*/\1/p" "$work/seen.$2" | sort -u | paste -sd' '; }
grep -E '^name=make ' "$work/seen" >"$work/seen.make"
grep -vE '^name=make ' "$work/seen" >"$work/seen.cc"
diag "build processes seen: $(wc -l <"$work/seen.make") make," \
	"$(cut -d' ' -f1 "$work/seen.cc" | sort | uniq -c | paste -sd' ')"
diag "$(sed -E 's/ eff_cpus=.* cmd=(.{0,72}).*/ cmd=\1/' "$work/seen")"
check "make -C <tree> -j$jobs bzImage ran during the build" \
	grep -qE " cmd=make -C $T -j$jobs( .*)? bzImage( |\$)" "$work/seen.make"
check "compiler processes (fakecc, cc, cc1, as, ld) ran during the build" test -s "$work/seen.cc"
scope=$(field cgroup make)
like "every make ran in one ktscope-build scope under ktscope.slice" "$scope" "$scope_re"
[[ $scope =~ $scope_re ]] || scope="(one ktscope-build scope)"
is "every compiler ran in that same scope" "$(field cgroup cc)" "$scope"
is "every make's Cpus_allowed_list is the plan" "$(field cpus make)" "$want_cpus"
is "every make's Mems_allowed_list is the plan" "$(field mems make)" "$want_mems"
is "every compiler's Cpus_allowed_list is the plan" "$(field cpus cc)" "$want_cpus"
is "every compiler's Mems_allowed_list is the plan" "$(field mems cc)" "$want_mems"
is "the scope's cpuset.cpus.effective is the plan" "$(field eff_cpus make)" "$want_cpus"
is "the scope's cpuset.mems.effective is the plan" "$(field eff_mems make)" "$want_mems"
is "taskset -pc $outside on the scope's make is refused (status 1)" "${taskset_rc:-not run}" 1

# Each compiler invocation's own record (scripts/fakecc), the ones too quick to see.
log=$T/fakecc.log
is "fakecc.log has one line per compiler run ($((objects + 1)))" \
	"$(wc -l <"$log" 2>/dev/null || echo none)" $((objects + 1))
is "every compiler invocation ran in the build's scope" \
	"$(sed -n 's/.* cgroup=\([^ ]*\) .*/\1/p' "$log" 2>/dev/null | sort -u | paste -sd' ')" \
	"$scope"
is "every compiler invocation ran on the plan's CPUs" \
	"$(sed -n 's/.* cpus=\(.*\)$/\1/p' "$log" 2>/dev/null | sort -u | paste -sd' ')" "$want_cpus"

# The result is in the cache, with the enforcement recorded.
run_capture "$KTSCOPE" kernel list --json
key=$(jq -r --arg t "$T" '.entries[] | select(.source.path == $t) | .key' <<<"$out" 2>/dev/null)
like "kernel list --json has one entry for the tree, status matches" \
	"$(jq -r --arg t "$T" '[.entries[] | select(.source.path == $t) | .status] | join(" ")' \
		<<<"$out" 2>/dev/null)" '^matches$'
img=$KTSCOPE_CACHE_DIR/kernels/${key:-(no key)}/bzImage
check "build's stdout is the entry's bzImage, and it exists" \
	test "$(tail -n 1 "$work/out")" = "$img" -a -s "$img"
run_capture "$KTSCOPE" kernel path "$key"
is "kernel path KEY prints that image" "$out" "$img"
run_capture "$KTSCOPE" kernel show "$key" --json
is "the entry's metadata: plan CPUs, mems, enforcement cgroup, make -j$jobs" \
	"$(jq -c '[.plan.cpus, .plan.mems, .plan.enforcement, .make_jobs]' <<<"$out" 2>/dev/null)" \
	"[\"$want_cpus\",\"$want_mems\",\"cgroup\",$jobs]"

# Nothing outlives the build.
check "the unit is gone after the build" no_ktscope_units
scope_gone() { [[ $scope =~ $scope_re && ! -d /sys/fs/cgroup$scope ]]; }
check "the scope's cgroup is gone" scope_gone
check "the LLC locks are released after the build" locks_free
seen=()
scan
is "no make or compiler process is left" "${#seen[@]}" 0

rm -rf "$work"
done_testing
