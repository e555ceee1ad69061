#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The man pages, against the built binary:
#   - every page passes `mandoc -Tlint -Wwarning` without a word (and, where groff
#     is installed, `groff -ww -z -man` too);
#   - every page renders, and its NAME line names the page;
#   - every long option a command's --help prints is documented in its page as an
#     item heading (a .TP tag), not merely mentioned somewhere (the global options
#     in ktscope(1)); likewise every environment variable --help names appears in
#     the page;
#   - every ktscope page named in a SEE ALSO exists, and man/Makemodule.am
#     installs every page there is;
#   - every NDJSON event name the sources emit is in ktscope(1)'s schema.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
srcdir=${KTS_TOP_SRCDIR:-$(cd "$here/../.." && pwd)}
mandir=$srcdir/man
kts_find_ktscope

# command (as typed after "ktscope") → page
commands=("" build run kernel topology locks doctor kconfig)
page_of() {
	echo "$mandir/ktscope${1:+-$1}.1"
}

have_mandoc=false have_groff=false
command -v mandoc >/dev/null && have_mandoc=true
command -v groff >/dev/null && have_groff=true
$have_mandoc || $have_groff || kts_skip_all "neither mandoc nor groff is installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ktscope-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The roff source as plain text: "\-" → "-", font and zero-width escapes dropped,
# so "\fB\-\-cpu\-cap\fR" reads "--cpu-cap".
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f\[[A-Z]*\]//g' -e 's/\\&//g' \
		-e 's/\\(em/--/g' "$1"
}

# The item headings of a page: the line after each .TP, plain.
tags() {
	plain "$1" | awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }'
}

# has_option TEXTFILE OPTION: OPTION occurs, not as part of a longer option name.
has_option() {
	grep -qE -- "(^|[^a-z0-9-])$2([^a-z0-9-]|\$)" "$1"
}

lint() {
	local page=$1 out rc=0
	if $have_mandoc; then
		out=$(mandoc -Tlint -Wwarning "$page" 2>&1) || rc=1
		[ -z "$out" ] || { rc=1; kts_diag "$out"; }
	fi
	if $have_groff; then
		out=$(groff -ww -z -man "$page" 2>&1) || rc=1
		[ -z "$out" ] || { rc=1; kts_diag "$out"; }
	fi
	return $rc
}

renders() {
	local page=$1 name out err
	name=$(basename "$page" .1)
	# Both the UTF-8 and the ASCII rendering, without a warning (a glyph that
	# has no ASCII form warns in groff).
	if $have_mandoc; then
		mandoc -Tascii -man "$page" >/dev/null 2>"$tmp/err"
		out=$(mandoc -Tutf8 -man "$page" 2>>"$tmp/err" | col -b)
	else
		groff -man -Tascii -ww "$page" >/dev/null 2>"$tmp/err"
		out=$(groff -man -Tutf8 -ww "$page" 2>>"$tmp/err" | col -b)
	fi
	err=$(cat "$tmp/err")
	if [ -n "$err" ]; then
		kts_diag "rendering $page: $err"
		return 1
	fi
	# The NAME section's line: "ktscope-build - ...".
	if ! grep -A1 '^NAME' <<<"$out" | grep -qE "^ +$name +- "; then
		kts_diag "rendered NAME section of $page does not name '$name':"
		kts_diag "$(head -8 <<<"$out")"
		return 1
	fi
	# Big enough to be a page, not a skeleton.
	[ "$(wc -l <<<"$out")" -ge 40 ] || { kts_diag "$page renders to under 40 lines"; return 1; }
}

# Every long option and environment variable of `ktscope CMD --help` in its page.
documents_help() {
	local cmd=$1 page help missing=() o
	page=$(page_of "$cmd")
	# shellcheck disable=SC2086 # an empty cmd is no word at all
	help=$("$KTSCOPE" $cmd --help 2>&1) || { kts_diag "ktscope $cmd --help failed"; return 1; }
	tags "$page" >"$tmp/tags"
	plain "$page" >"$tmp/plain"
	# shellcheck disable=SC2013 # options and variable names are single words
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
		has_option "$tmp/tags" "$o" || missing+=("$o (no item heading)")
	done
	# shellcheck disable=SC2013
	for o in $(grep -oE '\b(KTSCOPE_[A-Z_]+|NO_COLOR)\b' <<<"$help" | sort -u); do
		grep -qw -- "$o" "$tmp/plain" || missing+=("$o")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		kts_diag "$(basename "$page") lacks: ${missing[*]}"
		return 1
	fi
}

see_also_exists() {
	local page=$1 ref bad=()
	for ref in $(plain "$page" | sed -n '/^\.SH "\{0,1\}SEE ALSO/,/^\.SH/p' |
		grep -oE 'ktscope(-[a-z]+)? \(1\)|ktscope(-[a-z]+)?\(1\)' | grep -oE '^ktscope(-[a-z]+)?'); do
		[ -f "$mandir/$ref.1" ] || bad+=("$ref")
	done
	[ ${#bad[@]} = 0 ] || { kts_diag "$(basename "$page"): SEE ALSO names missing pages: ${bad[*]}"; return 1; }
}

# Every NDJSON event name the sources emit is in ktscope(1)'s --json-events schema.
documents_events() {
	local e missing=()
	plain "$(page_of "")" >"$tmp/plain"
	# shellcheck disable=SC2013 # event names are single words
	for e in $(grep -ohE 'progress_(event|emit)\("[a-z_]+"' "$srcdir"/src/*.c | cut -d'"' -f2 | sort -u); do
		grep -qF "{\"event\":\"$e\"" "$tmp/plain" || missing+=("$e")
	done
	[ ${#missing[@]} = 0 ] || { kts_diag "events not documented in ktscope.1: ${missing[*]}"; return 1; }
}

installs_every_page() {
	local p missing=()
	for p in "$mandir"/*.1; do
		grep -q "man/$(basename "$p")" "$mandir/Makemodule.am" || missing+=("$(basename "$p")")
	done
	[ ${#missing[@]} = 0 ] || { kts_diag "not in dist_man1_MANS: ${missing[*]}"; return 1; }
}

for cmd in "${commands[@]}"; do
	page=$(page_of "$cmd")
	name=$(basename "$page")
	if [ ! -f "$page" ]; then
		kts_not_ok "$name exists"
		continue
	fi
	kts_check "$name: lint is silent ($($have_mandoc && echo "mandoc -Tlint -Wwarning")$($have_mandoc && $have_groff && echo ", ")$($have_groff && echo "groff -ww -z"))" lint "$page"
	kts_check "$name: renders, NAME names the page" renders "$page"
	kts_check "$name: every long option and variable of 'ktscope${cmd:+ $cmd} --help' is documented" \
		documents_help "$cmd"
	kts_check "$name: every ktscope page in SEE ALSO exists" see_also_exists "$page"
done
kts_check "man/Makemodule.am installs every man/*.1" installs_every_page
kts_check "ktscope.1 documents every --json-events event the sources emit" documents_events

kts_plan "$kts_ntest"
[ "$kts_nfail" = 0 ]
