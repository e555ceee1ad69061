#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ktscope-kernel(1)'s scheduler kit on the real CLI: `kernel show` prints an entry's sched_ext
# summary, files and build telemetry (and embeds capabilities.json in --json), `kernel diff`
# lists what differs between two entries' manifests with diff(1)'s exit codes, `kernel env`
# prints exports a shell can eval (a cache path with a space and a single quote), `kernel path
# --vmlinux-h` and its sibling options print one file; entries of an older ktscope (no
# capabilities.json, no vmlinux.h) are said to be so; and these commands read an entry under
# its shared lock. Entries are builds of the fake kernel tree in the confined systemd user
# manager: one from fake.btf, one from FAKE_BTF=fake-next.btf with CONFIG_HZ=1000 and
# --headers. An entry of an older ktscope is one with its kit files moved aside. Private cache
# and lock directories.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
command -v git >/dev/null || kts_skip_all "'git' not found"
command -v flock >/dev/null || kts_skip_all "'flock' (util-linux) not found"
kts_reexec_inside_manager "$here/kernel-caps.sh" "$@"

work=$(mktemp -d /tmp/ktscope-kernel-caps.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
	FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
trap 'kts_kill_bg; rm -rf "$work"' EXIT

KL() { "$KTSCOPE" kernel "$@"; }
# build NAME [BUILD-ARGS...]: the fake kernel tree built with BUILD-ARGS; prints its cache key.
build() {
	local n=$1
	shift
	"$KTSCOPE" --user build --source "$tree" "$@" >"$work/$n.out" 2>"$work/$n.err" ||
		{ kts_diag "build $n failed: $(tail -n 5 "$work/$n.err")" >&2; return 1; }
	basename "$(dirname "$(tail -n 1 "$work/$n.out")")"
}
dir_of() { echo "$KTSCOPE_CACHE_DIR/kernels/$1"; }
# json_get EXPR [ARG...]: EXPR (Python, on the document d, with sys.argv[2:] = ARGs) of the JSON
# on stdin, printed as JSON.
json_get() {
	"$KTS_PYTHON" -c 'import json, sys; d = json.load(sys.stdin); print(json.dumps(eval(sys.argv[1])))' "$@"
}
# lacks FILE LINE: FILE has no line LINE.
lacks() { ! grep -qxF -- "$2" "$1"; }

kts_plan 32

tree=$(kts_fake_tree "$work/tree") || { echo "Bail out! no fake tree"; exit 99; }
printf 'CONFIG_HZ=1000\n' >"$work/hz.config"
k1=$(build b1) && k2=$(build b2 --headers --extra-kconfig "$work/hz.config" -- FAKE_BTF=fake-next.btf) ||
	{ echo "Bail out! the fake kernel did not build"; exit 99; }
# Then the cache moves to a path with a space and a single quote, which `kernel env` must
# quote for the shell. (The builds ran in a plain one: make headers_install, like Kbuild's
# other targets, takes no such INSTALL_HDR_PATH.)
mv "$KTSCOPE_CACHE_DIR" "$work/cache dir's"
export KTSCOPE_CACHE_DIR="$work/cache dir's"
d1=$(dir_of "$k1") d2=$(dir_of "$k2")

# ---- an entry of an older ktscope: no capabilities.json, no vmlinux.h -------------------------
mkdir "$work/aside"
mv "$d1/capabilities.json" "$d1/vmlinux.h" "$work/aside/"
kts_capture KL show "$k1"
kts_check "show: an entry without capabilities.json says so and how to get one" \
	grep -qx 'sched_ext:    not recorded (built by an older ktscope; rebuild with --force)' <<<"$out"
kts_check "show --json: \"capabilities\" and \"vmlinux_h_path\" are null" \
	test "$(KL show "$k1" --json | json_get '[d["capabilities"], d["vmlinux_h_path"]]')" = \
	"[null, null]"
kts_expect 0 "'$k1' has no vmlinux.h \(built by an older ktscope; rebuild with --force\): KTSCOPE_KERNEL_VMLINUX_H left out" \
	"env of an older entry: exit 0, KTSCOPE_KERNEL_VMLINUX_H left out with a note" KL env "$k1"
kts_check "… and the other exports are there" \
	eval "grep -q '^export KTSCOPE_KERNEL_IMAGE=' <<<\"\$out\" && ! grep -q VMLINUX_H <<<\"\$out\""
kts_expect 1 "'$k1' has no vmlinux.h" "path --vmlinux-h of an older entry: exit 1 naming it" \
	KL path "$k1" --vmlinux-h
kts_expect 2 "'$k1' has no capabilities.json \(built by an older ktscope" \
	"diff with an older entry: exit 2 naming it" \
	KL diff "$k1" "$k2"
mv "$work/aside/capabilities.json" "$work/aside/vmlinux.h" "$d1/"

# ---- entries with the scheduler kit ---------------------------------------------------------
KL show "$k1" >"$work/show.out"
kts_check "show: the release from capabilities.json" grep -qx 'release:      0.0.0-fake' "$work/show.out"
kts_check "show: callbacks, scx kfuncs and where the kfuncs came from" \
	grep -qx 'sched_ext:    6 callbacks, 2 scx kfuncs (from btf_ids)' "$work/show.out"
kts_check "show: the key options on one line, the unset ones named" \
	grep -qE '^options:      SCHED_CLASS_EXT=y .*\(.*HZ.* not set\)$' "$work/show.out"
kts_check "show: the build's telemetry and phases, the kit's steps among them" \
	eval "grep -qE '^telemetry:    user [0-9.,]+ s' '$work/show.out' &&
		grep -qE '^phases:       .*make [0-9.]+ s.*vmlinux_h [0-9.]+ s, capabilities [0-9.]+ s' '$work/show.out'"
[ "$kts_nfail" = 0 ] || kts_diag "$(cat "$work/show.out")"
kts_check "show: the vmlinux.h path" grep -qxF "vmlinux.h:    $d1/vmlinux.h" "$work/show.out"
kts_check "show: no headers line without headers/" lacks "$work/show.out" "headers:      $d1/headers/include"
kts_check "show: the headers line of an entry that kept them" \
	grep -qxF "headers:      $d2/headers/include" <(KL show "$k2")
KL show "$k1" --json >"$work/show.json"
kts_check "show --json embeds the manifest as capabilities.json has it" \
	test "$(json_get 'd["capabilities"] == json.load(open(sys.argv[2]))' <"$work/show.json" \
		"$d1/capabilities.json" 2>&1)" = true
kts_check "show --json: vmlinux_h_path, headers_path" \
	test "$(json_get '[d["vmlinux_h_path"], d["headers_path"]]' <"$work/show.json")" = \
	"$(printf '["%s/vmlinux.h", null]' "$d1")"

# ---- diff -------------------------------------------------------------------------------------
kts_capture KL diff "$k1" "$k1"
kts_check "diff of an entry with itself: exit 0, nothing printed" test "$rc:$out" = "0:"
# A release of its own for the second entry (the fake tree's banner is fixed).
"$KTS_PYTHON" - "$d2/capabilities.json" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1]))
c["release"] = "0.0.1-fake"
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF2
kts_capture KL diff "$k1" "$k2"
kts_check "diff of two different manifests: exit 1" test "$rc" = 1
expected="~ release 0.0.0-fake → 0.0.1-fake
+ op dequeue (only in $k2)
- kfunc scx_bpf_consume (only in $k1)
- kfunc scx_bpf_dispatch (only in $k1)
+ kfunc scx_bpf_dsq_insert (only in $k2)
+ kfunc scx_bpf_dsq_move_to_local (only in $k2)
~ CONFIG_HZ not set → 1000"
kts_check "… the release, callback, kfuncs and options that differ, one line each" \
	test "$out" = "$expected"
[ "$out" = "$expected" ] || kts_diag "got: $out"
kts_capture KL diff --json "$k1" "$k2"
kts_check "diff --json: exit 1, an object of the differences" \
	test "$rc:$(json_get '[d["same"], d["release"], d["ops"], d["kfuncs"]["only_b"],
		d["options"]["CONFIG_HZ"]["b"]]' <<<"$out")" = '1:[false, {"a": "0.0.0-fake", '\
'"b": "0.0.1-fake"}, {"only_a": [], "only_b": ["dequeue"]}, ["scx_bpf_dsq_insert", '\
'"scx_bpf_dsq_move_to_local"], "1000"]'
kts_expect 2 "no cached kernel matches 'no-such-kernel'" "diff with an unknown key: exit 2 naming it" \
	KL diff "$k1" no-such-kernel
kts_expect 2 "takes two" "diff with one argument: exit 2" KL diff "$k1"
mv "$d2/capabilities.json" "$work/aside/"
# A manifest whose "ops" is no list (as a pulled entry may bring).
printf '{"schema": 1, "release": "6.12.0", "sched_ext": true, "ops": 7, "kfuncs": [],
 "kfuncs_from": "btf_ids", "options": {}}\n' >"$d2/capabilities.json"
kts_expect 2 "manifest of '$k2'.*field 'ops'" \
	"diff with a malformed capabilities.json: exit 2 naming the entry and field" \
	KL diff "$k1" "$k2"
mv "$work/aside/capabilities.json" "$d2/capabilities.json"

# ---- env --------------------------------------------------------------------------------------
KL env "$k2" >"$work/env.out" 2>"$work/env.err"
kts_check "env: the exports in order" \
	test "$(sed -n 's/^export KTSCOPE_KERNEL_\([A-Z_]*\)=.*/\1/p' "$work/env.out" | tr '\n' ' ')" = \
	"KEY RELEASE IMAGE VMLINUX VMLINUX_H CONFIG HEADERS "
# shellcheck disable=SC2016 # expanded by the inner bash
kts_check "env: eval'ed in bash (a cache path with a space and a quote), every file is there" \
	bash -c 'eval "$(cat "$1")" && [ "$KTSCOPE_KERNEL_KEY" = "$2" ] &&
		[ "$KTSCOPE_KERNEL_RELEASE" = 0.0.1-fake ] &&
		[ "$KTSCOPE_KERNEL_IMAGE" = "$3/bzImage" ] && [ -f "$KTSCOPE_KERNEL_IMAGE" ] &&
		[ "$KTSCOPE_KERNEL_VMLINUX" = "$3/vmlinux" ] && [ -f "$KTSCOPE_KERNEL_VMLINUX" ] &&
		[ "$KTSCOPE_KERNEL_VMLINUX_H" = "$3/vmlinux.h" ] && [ -f "$KTSCOPE_KERNEL_VMLINUX_H" ] &&
		[ "$KTSCOPE_KERNEL_CONFIG" = "$3/config" ] && [ -f "$KTSCOPE_KERNEL_CONFIG" ] &&
		[ "$KTSCOPE_KERNEL_HEADERS" = "$3/headers/include" ] && [ -d "$KTSCOPE_KERNEL_HEADERS" ]' \
	_ "$work/env.out" "$k2" "$d2"
kts_check "env: nothing on stderr for a complete entry" test ! -s "$work/env.err"
kts_check "env without headers/: no KTSCOPE_KERNEL_HEADERS, no note" \
	eval "! KL env '$k1' 2>&1 | grep -q HEADERS"

# ---- path -------------------------------------------------------------------------------------
kts_check "path --vmlinux-h prints the entry's vmlinux.h" \
	test "$(KL path "$k1" --vmlinux-h)" = "$d1/vmlinux.h"
kts_check "path --config, --vmlinux, --image; no option: the image" \
	test "$(KL path "$k1" --config; KL path "$k1" --vmlinux; KL path "$k1" --image; KL path "$k1")" = \
	"$d1/config
$d1/vmlinux
$d1/bzImage
$d1/bzImage"
kts_expect 2 "one file: --vmlinux-h and --config" "path with two file options: exit 2 naming both" \
	KL path "$k1" --vmlinux-h --config
kts_expect 1 "'$k1' has no headers/include \(built without --headers" \
	"path --headers of an entry without them: exit 1 naming it" KL path "$k1" --headers

# ---- the entry's shared lock --------------------------------------------------------------------
# While someone holds the entry lock exclusively (as clean does while it removes the entry),
# show and env wait for it, then read the entry.
lock=$KTSCOPE_CACHE_DIR/.locks/$k1.lock
mkdir -p "$KTSCOPE_CACHE_DIR/.locks"
for cmd in show env; do
	# The holder is a process of its own: a lock fd the command inherited would be its own.
	rm -f "$work/held" "$work/release"
	# shellcheck disable=SC2016 # expanded by the inner bash
	kts_bg flock -x "$lock" bash -c 'touch "$1/held"; while [ ! -e "$1/release" ]; do sleep 0.05; done' \
		_ "$work"
	holder=$kts_bg_pid
	kts_wait_until 10 test -e "$work/held"
	kts_bg timeout 20 "$KTSCOPE" kernel "$cmd" "$k1" >"$work/locked.out" 2>&1
	pid=$kts_bg_pid
	sleep 0.5
	waited=false
	kill -0 "$pid" 2>/dev/null && waited=true
	touch "$work/release"
	wait "$holder"
	wait "$pid"
	rc=$?
	kts_check "$cmd waits while the entry lock is held exclusively, then reads the entry" \
		eval "$waited && [ $rc = 0 ] && grep -q -- '$k1' \"\$work/locked.out\""
done

kts_done 2>/dev/null || exit $((kts_nfail > 0))
