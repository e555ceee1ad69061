#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run call it:
#   1. autoreconf + configure (-Werror) + make + make -jN check   (unit + integration),
#      then the real-kernel builds alone (tests/integration/e2e.sh, KTS_E2E=1); the guest tier
#   2. make distcheck (the dist tarball builds, installs and passes the unit tests and the
#      integration tests that need what it ships: `kts-distcheck` in tests/Makemodule.am)
#   3. a second build with --enable-sanitizers (ASan+UBSan) + make check (every test that runs
#      ktscope's code: `kts-check-c`)
#   4. a third build with CC=clang --enable-fuzzers + `make fuzz` (each libFuzzer harness for
#      FUZZ_TIME=15 s on its seed corpus, N at a time; one ok/not ok line per harness)
# Build trees go to ${KTS_BUILD_ROOT:-$PWD/_ci}; every `make check` summary is
# appended to $KTS_BUILD_ROOT/summaries.log and the totals are printed last as
# "N passed, N failed, N skipped", after one line with each step's duration in seconds.
# A skip that tests/skip-allowlist does not name (with its reason) fails the run; each
# such skip is named before the totals (tests/skip-check).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
root=${KTS_BUILD_ROOT:-$top/_ci}
jobs=${KTS_JOBS:-$(nproc)}
mkdir -p "$root"
: >"$root/summaries.log"
failed_steps=()
durations=()
step_logs=()

step() { # step NAME CMD... ; output goes to the terminal and to $root/NAME.log
	local name=$1; shift
	local rc=0 t0=$SECONDS
	echo "==> $name: $*"
	"$@" 2>&1 | tee "$root/$name.log" || rc=$?
	echo "==> $name: $((SECONDS - t0)) s"
	durations+=("$name $((SECONDS - t0)) s")
	step_logs+=("$name=$root/$name.log")
	if grep -qE '^# (PASS|FAIL):' "$root/$name.log"; then
		grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$root/$name.log" >>"$root/summaries.log"
	else
		# a plain TAP script (no automake summary): count its result lines
		awk '/^ok .*# SKIP/ { s++; next } /^ok / { p++ } /^not ok / { f++ }
		     END { printf "# PASS: %d\n# FAIL: %d\n# SKIP: %d\n", p, f, s }' \
			"$root/$name.log" >>"$root/summaries.log"
	fi
	if ((rc != 0)); then
		failed_steps+=("$name")
		echo "==> $name FAILED (log: $root/$name.log)"
		return 1
	fi
}

(cd "$top" && autoreconf -fi) || { echo "autoreconf failed"; exit 1; }

mkdir -p "$root/build" "$root/asan" "$root/fuzz"
step configure bash -c "cd '$root/build' && '$top/configure' --enable-werror --enable-test-hooks" &&
	step build make -C "$root/build" -j"$jobs" && {
	step check make -C "$root/build" -j"$jobs" check
	# the two real-kernel builds (tests/integration/e2e.sh), alone: a kernel build beside
	# the other tests would starve the timing of the scope tests; it also boots the cold
	# build's bzImage with the test's sched_ext scheduler (tests/scx/run-guest: clang,
	# libbpf-dev's static libbpf, busybox-static, cpio, qemu-system-x86 from .ci/run)
	step e2e env KTS_E2E=1 make -C "$root/build" check TESTS=tests/integration/e2e.sh
}
# the guest tier (issue 6): systemd that really enforces AllowedCPUs=, in qemu
step check-vm make -C "$root/build" check-vm
# (xz -1: the tarball is only unpacked again here; automake's default -e took ~20 s of CPU per
# `make dist`, and distcheck makes it twice)
step distcheck env XZ_OPT=-1 make -C "$root/build" -j"$jobs" kts-distcheck \
	DISTCHECK_CONFIGURE_FLAGS=--enable-werror
# the Fedora spec builds an RPM from the dist tarball with the files it should have
step packaging env KTS_TOP_SRCDIR="$top" bash "$top/tests/packaging.sh" "$root/build/ktscope-0.1.0.tar.xz"
step asan-configure bash -c "cd '$root/asan' && '$top/configure' --enable-werror --enable-sanitizers --enable-test-hooks" &&
	step asan-check make -C "$root/asan" -j"$jobs" kts-check-c
# the parsers of foreign input under libFuzzer (fuzz/), short and bounded
step fuzz-configure bash -c "cd '$root/fuzz' && CC=clang '$top/configure' --enable-werror --enable-fuzzers" &&
	step fuzz-build make -C "$root/fuzz" -j"$jobs" &&
	step fuzz make -C "$root/fuzz" fuzz FUZZ_TIME=15 FUZZ_JOBS="$jobs"

sum() { awk -v k="$1" '$1 == "#" && $2 == k":" { n += $3 } END { print n + 0 }' "$root/summaries.log"; }
pass=$(( $(sum PASS) + $(sum XFAIL) ))
fail=$(( $(sum FAIL) + $(sum XPASS) + $(sum ERROR) ))
skip=$(sum SKIP)
if ((${#failed_steps[@]})); then
	echo "failed steps: ${failed_steps[*]}"
	# a step that failed before its test summary counts as one failure
	((fail == 0)) && fail=${#failed_steps[@]}
fi
echo "step durations: ${durations[*]/%/,} total $SECONDS s"
# where the time went inside the steps: the slowest tests, from the line tests/run-test.sh
# ends each test's log with
echo "slowest tests:"
find "$root" -path '*/tests/*' -name '*.log' -exec grep -H '^# run-test: .* took [0-9]* s$' {} + 2>/dev/null |
	awk -v root="$root/" '{ n = $(NF - 1); f = $0; sub(/:# run-test: .*/, "", f)
		if (index(f, root) == 1) f = substr(f, length(root) + 1)
		printf "%6d s  %s\n", n, f }' | sort -rn | head -n 12
# every unlisted skip is one failure, and so is an unreadable or malformed allowlist
bash "$top/tests/skip-check" "$top/tests/skip-allowlist" "${step_logs[@]}" >"$root/skips.log"
skips_rc=$?
unlisted=$(grep -c '^unlisted skip' "$root/skips.log")
grep -v '^allowed skip' "$root/skips.log"
((skips_rc > 1)) && unlisted=$((unlisted + 1))
((unlisted)) && echo "$unlisted skip(s) not in tests/skip-allowlist (all skips: $root/skips.log)"
fail=$((fail + unlisted))
echo "$pass passed, $fail failed, $skip skipped"
((${#failed_steps[@]} == 0 && fail == 0))
