# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # namerefs set their callers' variables
#
# bench/lib.sh: what every benchmark script shares (sourced, never run). It owns
#   - the idle gate: bench_wait_idle before each pair of timed runs waits (bounded) until
#     the 1-minute load average is below BENCH_IDLE_LOAD (0.3) and the CPU pressure
#     (/proc/pressure/cpu "some" avg10) below BENCH_IDLE_PSI (1.0 %), then goes on and
#     counts the pair as NOISY when the machine never got there; bench_begin/bench_end
#     print load and pressure at the start and the end of a benchmark;
#   - timing: bench_time (wall µs and CPU µs, user+sys of every waited-for descendant,
#     from the shell's own `times`, so no extra process is timed), bench_median,
#     bench_paired_median (median of per-round differences: a before/after with
#     --baseline BIN in one interleaved run), bench_ratio;
#   - verdicts: bench_verdict VALUE TARGET (TARGET "<=1.02" or ">=10000"; a bare number
#     means "<=") prints PASS or MISS; bench_record appends one TSV line to the results
#     file (BENCH_RESULTS, default bench/results.tsv under the current directory, which
#     `make bench` sets to the build directory's); bench_summary prints the last line of
#     every issue-15 row as one table, SKIP for a row never measured.
# Functions that fail print one line naming the value and return 1; the scripts die on it.
# Nothing here starts a daemon or touches anything outside the results file.

BENCH_IDLE_LOAD=${BENCH_IDLE_LOAD:-0.3}
BENCH_IDLE_PSI=${BENCH_IDLE_PSI:-1.0}
# One gate waits at most BENCH_IDLE_MAX seconds; all gates of one script at most
# BENCH_IDLE_BUDGET seconds together, after which a gate only checks (and flags).
BENCH_IDLE_MAX=${BENCH_IDLE_MAX:-600}
BENCH_IDLE_BUDGET=${BENCH_IDLE_BUDGET:-1800}
BENCH_RESULTS=${BENCH_RESULTS:-$PWD/bench/results.tsv}
case $BENCH_RESULTS in /*) ;; *) BENCH_RESULTS=$PWD/$BENCH_RESULTS ;; esac
export BENCH_RESULTS BENCH_IDLE_LOAD BENCH_IDLE_PSI BENCH_IDLE_MAX BENCH_IDLE_BUDGET
BENCH_GATES=0 BENCH_NOISY=0 BENCH_WAITED=0
BENCH_LOADAVG=${BENCH_LOADAVG:-/proc/loadavg}
BENCH_PSI=${BENCH_PSI:-/proc/pressure/cpu}

# bench_conditions: "load 0.12 psi 0.00" (psi "n/a" without PSI), builtins only.
bench_conditions() {
	local load psi=n/a k avg _
	read -r load _ <"$BENCH_LOADAVG" || load=n/a
	if [ -r "$BENCH_PSI" ]; then
		while read -r k avg _; do
			[ "$k" = some ] && { psi=${avg#avg10=}; break; }
		done <"$BENCH_PSI"
	fi
	echo "load $load psi $psi"
}

# bench_is_idle [--psi-only]: status 0 when the machine is below both thresholds. A
# benchmark of short runs lifts the load average itself (one busy process is ~1.0),
# so its per-pair gates pass --psi-only after a full gate at the start.
bench_is_idle() {
	local c
	c=$(bench_conditions)
	# shellcheck disable=SC2086 # split "load L psi P" into words
	set -- "${1:-}" $c
	awk -v only="$1" -v l="$3" -v p="$5" -v ml="$BENCH_IDLE_LOAD" -v mp="$BENCH_IDLE_PSI" 'BEGIN {
		ok = (p == "n/a" || p + 0 < mp + 0)
		if (only != "--psi-only")
			ok = ok && l + 0 < ml + 0
		exit !ok
	}'
}

# bench_wait_idle [--psi-only]: the gate before a pair (see the top). Prints a line only
# when it waited or gave up.
bench_wait_idle() {
	local mode=${1:-} t0=$SECONDS max=$BENCH_IDLE_MAX left
	left=$((BENCH_IDLE_BUDGET - BENCH_WAITED))
	((left < max)) && max=$((left > 0 ? left : 0))
	BENCH_GATES=$((BENCH_GATES + 1))
	until bench_is_idle "$mode"; do
		if ((SECONDS - t0 >= max)); then
			BENCH_NOISY=$((BENCH_NOISY + 1))
			BENCH_WAITED=$((BENCH_WAITED + SECONDS - t0))
			# the first time only: bench_end counts them all
			((BENCH_NOISY > 1)) ||
				echo "bench: NOISY: not idle after $((SECONDS - t0)) s ($(bench_conditions)); going on" >&2
			return 0
		fi
		sleep 2
	done
	if ((SECONDS > t0)); then
		BENCH_WAITED=$((BENCH_WAITED + SECONDS - t0))
		echo "bench: waited $((SECONDS - t0)) s for an idle machine ($(bench_conditions))" >&2
	fi
	return 0
}

# bench_begin NAME / bench_end: load and pressure at the start and the end, and how many
# gates found the machine busy (then the figures are flagged NOISY).
bench_begin() {
	BENCH_NAME=$1
	echo "$BENCH_NAME: start: $(bench_conditions) (idle gate: load < $BENCH_IDLE_LOAD, psi < $BENCH_IDLE_PSI)" >&2
}
bench_end() {
	rm -f "$BENCH_TIMES_FILE"
	echo "${BENCH_NAME:-bench}: end: $(bench_conditions); $BENCH_NOISY of $BENCH_GATES idle gates timed out" >&2
}
# bench_noise_note: "" on a quiet run, else "NOISY (k of n gates)" for the record.
bench_noise_note() {
	((BENCH_NOISY > 0)) && echo "NOISY ($BENCH_NOISY of $BENCH_GATES gates)"
	return 0
}

# bench_cpu_us VAR: sets VAR to the user+sys µs of this shell's waited-for children so
# far (`times`, 2nd line). Not in a $(...): a subshell is a new process with no children;
# and no process of its own (an `rm` would count in the next sample): the file is reused
# and bench_end removes it.
BENCH_TIMES_FILE=${TMPDIR:-/tmp}/bench-times.$$
bench_cpu_us() {
	local -n bench__cpu=$1
	local u s m t x=0
	times >"$BENCH_TIMES_FILE" || return 1
	{ read -r _; read -r u s; } <"$BENCH_TIMES_FILE"
	for t in "$u" "$s"; do # "1m2.345s": minutes, seconds with 3 decimals
		m=${t%%m*} t=${t#*m} t=${t%s}
		x=$((x + m * 60000000 + 10#${t%.*} * 1000000 + 10#${t#*.} * 1000))
	done
	bench__cpu=$x
}

# bench_time WALL CPU CMD...: runs CMD (output to BENCH_OUT/BENCH_ERR, default /dev/null);
# sets the variables named WALL and CPU to its wall and CPU microseconds. CPU counts the
# descendants CMD waited for (a process that re-parents away is not counted). A failed CMD
# prints its stderr and returns 1: it never becomes a sample.
bench_time() {
	local -n bench__w=$1 bench__c=$2
	local t0 t1 c0 c1
	shift 2
	bench_cpu_us c0
	t0=${EPOCHREALTIME/./}
	if ! "$@" >"${BENCH_OUT:-/dev/null}" 2>"${BENCH_ERR:-/dev/null}"; then
		echo "bench: '$*' failed" >&2
		[ -f "${BENCH_ERR:-}" ] && tail -n 20 "$BENCH_ERR" >&2
		return 1
	fi
	t1=${EPOCHREALTIME/./}
	bench_cpu_us c1
	bench__w=$((t1 - t0))
	bench__c=$((c1 - c0))
}

# bench_median [V...]: the median of the arguments, or of stdin's lines without any.
bench_median() {
	{ if [ $# -gt 0 ]; then printf '%s\n' "$@"; else cat; fi; } | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) exit 1
		      printf "%.17g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_paired_median A B: the median of A[i] - B[i] over two arrays (names) of the same
# length, round by round: drift between rounds cancels, unlike median(A) - median(B).
bench_paired_median() {
	local -n bench__a=$1 bench__b=$2
	local i d=()
	if [ ${#bench__a[@]} != ${#bench__b[@]} ] || [ ${#bench__a[@]} = 0 ]; then
		echo "bench: '$1' and '$2' differ in length or are empty" >&2
		return 1
	fi
	for i in "${!bench__a[@]}"; do
		d+=("$(awk -v a="${bench__a[$i]}" -v b="${bench__b[$i]}" 'BEGIN { printf "%.17g", a - b }')")
	done
	bench_median "${d[@]}"
}

# bench_ratio A B: A / B with 3 decimals.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) exit 1; printf "%.3f\n", a / b }' ||
		{ echo "bench: cannot divide '$1' by '$2'" >&2; return 1; }
}

# bench_verdict VALUE TARGET: PASS or MISS. TARGET is "<=X", ">=X" or a bare X ("<=X");
# "-" (reported only) gives INFO.
bench_verdict() {
	local v=$1 t=$2 op=le
	case $t in
	-) echo INFO; return 0 ;;
	'<='*) t=${t#<=} ;;
	'>='*) t=${t#>=} op=ge ;;
	esac
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ && $t =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
		{ echo "bench: bad value '$1' or target '$2'" >&2; return 1; }
	awk -v v="$v" -v t="$t" -v op=$op 'BEGIN {
		ok = (op == "le") ? v + 0 <= t + 0 : v + 0 >= t + 0
		print ok ? "PASS" : "MISS" }'
}

# bench_record NAME VALUE TARGET VERDICT NOTE: appends "DATE NAME VALUE TARGET VERDICT
# NOTE" (tabs; DATE in UTC) to BENCH_RESULTS. An empty VERDICT is computed; the noise
# note of this run is added to NOTE. Also prints the line for the reader.
bench_record() {
	local name=$1 value=$2 target=$3 verdict=${4:-} note=${5:-} noise
	[[ $name =~ ^[a-z0-9-]+$ ]] || { echo "bench: bad result name '$name'" >&2; return 1; }
	[ -n "$verdict" ] || verdict=$(bench_verdict "$value" "$target") || return 1
	noise=$(bench_noise_note)
	[ -n "$noise" ] && note=${note:+$note; }$noise
	note=${note//$'\t'/ }
	note=${note//$'\n'/ }
	mkdir -p "$(dirname "$BENCH_RESULTS")" 2>/dev/null
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$value" \
		"$target" "$verdict" "$note" >>"$BENCH_RESULTS" ||
		{ echo "bench: cannot append to '$BENCH_RESULTS'" >&2; return 1; }
	echo "result: $name $value (target $target) $verdict${note:+ ($note)}"
}

# The rows of issue 15, in order: NAME, label, target, how to measure it.
BENCH_ROWS=(
	"round-trip|scope round trip / systemd-run --scope|<=1.0|make bench"
	"planner|planner, plans/s (1024-CPU snapshot)|>=10000|make bench"
	"cache-hit-git|git cache hit / git status --porcelain|<=1.2|make bench TREE=…"
	"cache-hit-tarball|tarball cache hit / openssl dgst -sha256|<=1.1|make bench TARBALL=…"
	"build-wall|build / same pipeline by hand, wall|<=1.02|make bench-kernel TREE=…"
	"build-cpu|build / same pipeline by hand, CPU|<=1.02|make bench-kernel TREE=…"
	"edit-loop|edit-build loop / incremental make + strip|<=1.1|make bench-kernel TREE=…"
	"parent-peak-rss|parent peak RSS during a build, MiB|-|make bench-kernel TREE=…"
	"registry-pull|kernel pull / curl (issue 13)|<=1.1|make bench-registry"
)

# bench_summary [FILE]: the table of the rows above from the last line recorded for each
# (FILE defaults to BENCH_RESULTS); a row never recorded says how to measure it.
bench_summary() {
	local file=${1:-$BENCH_RESULTS} row name label target how line
	local date value rtarget verdict note
	printf '%-44s %10s %8s  %-7s %-20s %s\n' "issue 15 target" value target verdict measured note
	for row in "${BENCH_ROWS[@]}"; do
		IFS='|' read -r name label target how <<<"$row"
		line=
		[ -r "$file" ] && line=$(awk -F '\t' -v n="$name" '$2 == n { l = $0 } END { print l }' "$file")
		if [ -z "$line" ]; then
			printf '%-44s %10s %8s  %-7s %-20s %s\n' "$label" - "$target" SKIP - "(run: $how)"
			continue
		fi
		IFS=$'\t' read -r date _ value rtarget verdict note <<<"$line"
		printf '%-44s %10s %8s  %-7s %-20s %s\n' "$label" "$value" "$rtarget" "$verdict" "$date" "$note"
	done
}

# bench_event_field FILE EVENT PATH: the value at PATH (dotted) of the last EVENT line of a
# --json-events file (lines may start with a time stamp and a blank).
bench_event_field() {
	python3 - "$@" <<'PY'
import json, sys
f, ev, path = sys.argv[1:4]
v = None
for l in open(f):
    l = l.strip()
    if not l:
        continue
    if l[0] != "{":
        l = l.split(" ", 1)[1]
    e = json.loads(l)
    if e.get("event") == ev:
        v = e
        for k in path.split("."):
            v = v.get(k) if isinstance(v, dict) else None
if v is None:
    sys.exit(1)
print(v)
PY
}

# bench_phases FILE...: ktscope's phases per round (the "phases" of each file's telemetry
# event, seconds) as a table: one row per phase, one column per round, and the median.
bench_phases() {
	python3 - "$@" <<'PY'
import json, statistics, sys
rounds = []
for f in sys.argv[1:]:
    ph = {}
    for l in open(f):
        l = l.strip()
        if l and l[0] != "{":
            l = l.split(" ", 1)[1]
        if l.startswith("{"):
            e = json.loads(l)
            if e.get("event") == "telemetry":
                ph = e.get("phases", {})
    rounds.append(ph)
names = []
for ph in rounds:
    names += [n for n in ph if n not in names]
print("  %-18s %s  median" % ("phase", " ".join("%8s" % ("r%d" % (i + 1)) for i in range(len(rounds)))))
for n in names:
    v = [ph.get(n) for ph in rounds]
    got = [x for x in v if x is not None]
    print("  %-18s %s  %6.2f" % (n, " ".join("%8s" % ("-" if x is None else "%.2f" % x) for x in v),
                               statistics.median(got)))
sums = [sum(ph.values()) for ph in rounds]
print("  %-18s %s  %6.2f" % ("sum of phases", " ".join("%8.2f" % x for x in sums), statistics.median(sums)))
PY
}

# bench_steps FILE...: the same table for by-hand steps, from files of "NAME MICROSECONDS".
bench_steps() {
	python3 - "$@" <<'PY'
import statistics, sys
rounds = []
for f in sys.argv[1:]:
    d = {}
    for l in open(f):
        n, us = l.split()
        d[n] = d.get(n, 0) + int(us) / 1e6
    rounds.append(d)
names = []
for d in rounds:
    names += [n for n in d if n not in names]
for n in names:
    v = [d.get(n) for d in rounds]
    got = [x for x in v if x is not None]
    print("  %-18s %s  %6.2f" % (n, " ".join("%8s" % ("-" if x is None else "%.2f" % x) for x in v),
                               statistics.median(got)))
PY
}
