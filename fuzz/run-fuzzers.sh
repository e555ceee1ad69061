#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_TIME seconds (default 60) on a copy of its seed
# corpus, so new inputs never land in the source tree:
#   run-fuzzers.sh FUZZDIR HARNESS...     (FUZZDIR: the source tree's fuzz/)
# FUZZ_JOBS=N (default 1) runs N harnesses at a time, each a single-threaded process: on N
# free CPUs each gets the same FUZZ_TIME of a whole CPU as alone, and the step takes 1/N of
# the time. Work goes to ./fuzz-work/NAME/ (corpus copy, log, crash artifacts). One TAP line
# per harness, in the order given, with executions, libFuzzer's final cov:/ft:, and crashes;
# exits 1 when any harness crashed, leaked, timed out or ran out of memory.
set -uo pipefail

fuzzdir=$1; shift
time=${FUZZ_TIME:-60}
rss=${FUZZ_RSS_MB:-2048}
jobs=${FUZZ_JOBS:-1}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run-fuzzers.sh: bad FUZZ_JOBS '$jobs'" >&2; exit 2; }
failed=0

# fuzz_one HARNESS: runs it, leaves its TAP line (without the number) in its work dir's
# "result" and exits 1 when it failed
fuzz_one() {
	local harness=$1 name work rc t0 execs stats cov ft artifacts crashes line
	name=$(basename "$harness"); name=${name#fuzz-}
	work=fuzz-work/$name
	rm -rf "$work" && mkdir -p "$work/corpus" || exit 1
	[[ -d $fuzzdir/corpus/$name ]] && cp -R "$fuzzdir/corpus/$name/." "$work/corpus/"
	local args=(-max_total_time="$time" -rss_limit_mb="$rss" -timeout=10 -print_final_stats=1
		    -artifact_prefix="$work/")
	[[ -f $fuzzdir/dict/$name.dict ]] && args+=(-dict="$fuzzdir/dict/$name.dict")
	t0=$SECONDS
	"$harness" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	stats=$(grep -E '^#[0-9]+.* cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -1)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
	artifacts=$(find "$work" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
	crashes=$(grep -c . <<<"$artifacts")
	line="fuzz-$name: ${execs:-?} executions in $((SECONDS - t0)) s, cov: ${cov:-?} ft: ${ft:-?}, crashes: $crashes"
	if ((rc == 0 && crashes == 0)); then
		echo "ok - $line" >"$work/result"
		exit 0
	fi
	{
		echo "not ok - $line (exit $rc)"
		# the report: the sanitizer's or the invariant's message, then the inputs to keep
		grep -m1 -E 'ERROR: |runtime error: |invariant failed|SUMMARY: ' "$work/log" | sed 's/^/#   /'
		sed 's/^/#   artifact: /' <<<"$artifacts"
		echo "#   log: $PWD/$work/log"
	} >"$work/result"
	exit 1
}

# report I: waits for the I-th harness and prints its result, numbered
report() {
	local i=$1 name result
	wait "${pids[i]}" || failed=1
	name=$(basename "${harnesses[i]}"); name=${name#fuzz-}
	result=fuzz-work/$name/result
	if [[ -f $result ]]; then
		sed "1s/^\(ok\|not ok\) - /\1 $((i + 1)) - /" "$result"
	else
		failed=1
		echo "not ok $((i + 1)) - fuzz-$name: no result (could not set up fuzz-work/$name)"
	fi
}

harnesses=("$@")
pids=()
echo "1..$#"
# at most $jobs at a time; results in the order given (they take about equally long)
for ((i = 0; i < $#; i++)); do
	((i >= jobs)) && report $((i - jobs))
	fuzz_one "${harnesses[i]}" &
	pids[i]=$!
done
for ((i = $# > jobs ? $# - jobs : 0; i < $#; i++)); do
	report "$i"
done
exit "$failed"
