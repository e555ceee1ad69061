# shellcheck shell=bash
# Minimal TAP helpers for the integration scripts (sourced).
#   plan N; ok COND-EXIT DESC; expect_exit WANT DESC CMD...; skip_all REASON
_tap_n=0
_tap_failed=0
plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
fail() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
diag() { sed 's/^/# /' <<<"$*"; }
# check DESC CMD... : passes when CMD succeeds
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

# run_capture CMD... : runs CMD, sets $rc, $out (stdout), $err (stderr)
run_capture() {
	local o e
	o=$(mktemp) e=$(mktemp)
	"$@" >"$o" 2>"$e"
	rc=$?
	out=$(cat "$o") err=$(cat "$e")
	rm -f "$o" "$e"
}

# expect WANT_RC 'REGEX-on-stderr-or-empty' DESC CMD...
expect() {
	local want=$1 re=$2 d=$3; shift 3
	run_capture "$@"
	if [[ $rc -ne $want ]]; then
		fail "$d (exit $rc, want $want)"; diag "stderr: $err"; return
	fi
	if [[ -n $re ]] && ! grep -qE -- "$re" <<<"$err"; then
		fail "$d (stderr does not match /$re/)"; diag "stderr: $err"; return
	fi
	pass "$d"
}
tap_done() { exit $((_tap_failed > 0)); }
