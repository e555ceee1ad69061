#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/lib.sh with fixed inputs (seconds, no ktscope run): medians, the paired-difference
# median, ratios, PASS/MISS for "<=" and ">=" targets, bad values refused, the TSV line
# bench_record appends and the summary table built from the last line per row (SKIP with
# the make target for a row never measured), the idle gate against fake /proc/loadavg and
# /proc/pressure/cpu files (passes at once when idle; times out, flags NOISY and records
# it when busy), and bench_time's wall and CPU microseconds of a busy child.
# shellcheck disable=SC2016,SC2034,SC2119,SC2154 # eval'd checks; arrays read by nameref
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
srcdir=${KTS_TOP_SRCDIR:-$(cd "$here/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ktscope-bench-lib.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
export BENCH_RESULTS=$tmp/results.tsv BENCH_LOADAVG=$tmp/loadavg BENCH_PSI=$tmp/psi
# shellcheck source=bench/lib.sh
. "$srcdir/bench/lib.sh"

kts_plan 23

eq() { [ "$1" = "$2" ] || { kts_diag "got '$1', want '$2'"; return 1; }; }
kts_check "median of an odd count" eq "$(bench_median 30 10 20 1000 5)" 20
kts_check "median of an even count is the mean of the middle two" eq "$(bench_median 4 1 3 2)" 2.5
kts_check "median sorts numerically, decimals too" eq "$(printf '%s\n' 9.5 10.25 100 | bench_median)" 10.25
kts_check "median of nothing fails" eval '! bench_median </dev/null'
new=(110 220 330 440 10000) old=(100 200 300 400 100)
kts_check "paired-difference median: round by round" eq "$(bench_paired_median new old)" 30
short=(1 2)
kts_check "paired median refuses arrays of different lengths" eval '! bench_paired_median new short 2>/dev/null'
kts_check "ratio with 3 decimals" eq "$(bench_ratio 102 100)" 1.020
kts_check "a ratio at the target passes" eq "$(bench_verdict 1.020 1.02)" PASS
kts_check "a ratio above a <= target misses" eq "$(bench_verdict 1.021 '<=1.02')" MISS
kts_check "a rate at a >= target passes, below misses" \
	eq "$(bench_verdict 10000 '>=10000') $(bench_verdict 9999.9 '>=10000')" "PASS MISS"
kts_expect 1 "bad value 'n/a'" "a value that is not a number is refused, naming it" \
	bench_verdict n/a 1.1

bench_record round-trip 1.250 '<=1.0' "" "30 pairs" >/dev/null
bench_record round-trip 0.950 '<=1.0' "" "30 pairs, after" >/dev/null
bench_record planner 185000 '>=10000' "" "" >/dev/null
bench_record parent-peak-rss 31.5 - "" "max of 3 builds" >/dev/null
n=$(wc -l <"$BENCH_RESULTS")
kts_check "bench_record appends one line per record" eq "$n" 4
IFS=$'\t' read -r when name value target verdict note < <(sed -n 2p "$BENCH_RESULTS")
kts_check "the line holds date, name, value, target, computed verdict, note" \
	eq "$name|$value|$target|$verdict|$note" "round-trip|0.950|<=1.0|PASS|30 pairs, after"
kts_check "the date is UTC ISO 8601" eval '[[ $when =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}Z$ ]]'
kts_expect 1 "bad result name" "a result name with a space is refused" bench_record "round trip" 1 1 "" ""

summary=$(bench_summary)
kts_diag "$summary"
kts_check "the summary shows the last round-trip line" \
	eval 'grep -qE "^scope round trip.* 0\.950 +<=1\.0 +PASS .*30 pairs, after" <<<"$summary"'
kts_check "a reported-only row says INFO" eval 'grep -qE "^parent peak RSS.* 31\.5 +- +INFO" <<<"$summary"'
kts_check "a row never measured says SKIP and how to run it" \
	eval 'grep -qE "^edit-build loop.* SKIP .*\(run: make bench-kernel TREE=…\)" <<<"$summary"'
kts_check "the summary script prints the same table" \
	eval '[ "$(bash "$srcdir/bench/summary")" = "$summary" ]'

# The idle gate against fake files: idle passes at once; busy waits BENCH_IDLE_MAX and flags.
echo "0.05 0.10 0.20 1/100 42" >"$BENCH_LOADAVG"
printf 'some avg10=0.40 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' >"$BENCH_PSI"
BENCH_IDLE_MAX=0
bench_wait_idle 2>"$tmp/gate.err"
kts_check "an idle machine passes the gate with nothing flagged" \
	eval '[ "$BENCH_NOISY/$BENCH_GATES" = 0/1 ] && [ ! -s "$tmp/gate.err" ]'
echo "2.50 1.00 0.50 3/100 42" >"$BENCH_LOADAVG"
bench_wait_idle --psi-only 2>"$tmp/gate.err"
bench_wait_idle 2>"$tmp/gate.err"
bench_record edit-loop 1.05 1.1 "" "5 rounds" >/dev/null
kts_check "a busy load average fails the full gate only, flagged NOISY in the record" \
	eval '[ "$BENCH_NOISY/$BENCH_GATES" = 1/3 ] && grep -q "NOISY: not idle after 0 s (load 2.50 psi 0.40)" "$tmp/gate.err" &&
		tail -n 1 "$BENCH_RESULTS" | grep -q "5 rounds; NOISY (1 of 3 gates)\$"'

bench_time wall cpu bash -c 'i=0; while ((i < 300000)); do i=$((i + 1)); done'
kts_diag "busy child: wall $wall us, cpu $cpu us"
kts_check "bench_time counts a busy child's CPU and wall time" \
	eval '((cpu > 50000 && wall >= cpu * 8 / 10))'
bench_end 2>/dev/null
kts_check "bench_end removes the times file" test ! -e "$BENCH_TIMES_FILE"
[ $kts_nfail = 0 ]
