#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_TIME seconds (default 60) on a copy of its seed
# corpus, so new inputs never land in the source tree:
#   run-fuzzers.sh FUZZDIR HARNESS...     (FUZZDIR: the source tree's fuzz/)
# Work goes to ./fuzz-work/NAME/ (corpus copy, log, crash artifacts). One TAP line per
# harness with executions, libFuzzer's final cov:/ft:, and crashes; exits 1 when any
# harness crashed, leaked, timed out or ran out of memory.
set -uo pipefail

fuzzdir=$1; shift
time=${FUZZ_TIME:-60}
rss=${FUZZ_RSS_MB:-2048}
failed=0 i=0

echo "1..$#"
for harness in "$@"; do
	name=$(basename "$harness"); name=${name#fuzz-}
	work=fuzz-work/$name
	i=$((i + 1))
	rm -rf "$work" && mkdir -p "$work/corpus" || exit 1
	[[ -d $fuzzdir/corpus/$name ]] && cp -R "$fuzzdir/corpus/$name/." "$work/corpus/"
	args=(-max_total_time="$time" -rss_limit_mb="$rss" -timeout=10 -print_final_stats=1
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
		echo "ok $i - $line"
	else
		failed=1
		echo "not ok $i - $line (exit $rc)"
		# the report: the sanitizer's or the invariant's message, then the inputs to keep
		grep -m1 -E 'ERROR: |runtime error: |invariant failed|SUMMARY: ' "$work/log" | sed 's/^/#   /'
		sed 's/^/#   artifact: /' <<<"$artifacts"
		echo "#   log: $PWD/$work/log"
	fi
done
exit "$failed"
