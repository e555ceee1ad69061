#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The scheduler kit of a build (issue 14) on the fake kernel tree (tests/data/fake-kernel,
# whose vmlinux carries fake.btf and a .BTF_ids kfunc set), against the real confined
# systemd user manager: vmlinux.h and capabilities.json in every entry; --headers
# (make headers_install into the entry, not part of the key: a cached entry without
# headers/ is rebuilt with one notice, an entry with them serves a plain build); a second
# entry from FAKE_BTF=fake-next.btf; a vmlinux without .BTF and a failing kit step leave
# no entry and nothing in .tmp. Private cache and lock dirs.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_reexec_inside_manager "$here/kit.sh" "$@"
set -m

work=$(mktemp -d /tmp/ktscope-kit-test.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_REMOTE \
	KTSCOPE_TEST_HOOK FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE FAKE_BTF
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

B() { "$KTSCOPE" --user build "$@"; }
# run NAME CMD...: stdout and stderr into $work/NAME.{out,err}, the status in rc
run() {
	local n=$1
	shift
	"$@" >"$work/$n.out" 2>"$work/$n.err"
	rc=$?
}
key_of() { basename "$(dirname "$(tail -n 1 "$work/$1.out")")"; }
tmp_empty() { [ -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp" 2>/dev/null | grep -v '^src\.')" ]; }
# caps ENTRY EXPR: a python expression on c, the entry's capabilities.json, is true
caps() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
		"$1/capabilities.json" "$2"
}

kts_plan 27

# ---- 1. every entry has vmlinux.h and capabilities.json ----------------------------------
T=$(kts_fake_tree "$work/tree")
run b1 B --source "$T"
key=$(key_of b1)
entry=$KTSCOPE_CACHE_DIR/kernels/$key
kts_check "the fake tree builds (exit 0)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -20 "$work/b1.err")"
kts_check "vmlinux.h: bpftool's guard and pragma, struct sched_ext_ops" eval "
	[ \"\$(head -n 2 '$entry/vmlinux.h')\" = \$'#ifndef __VMLINUX_H__\n#define __VMLINUX_H__' ] &&
	grep -qx '#pragma clang attribute push (__attribute__((preserve_access_index)), \
apply_to = record)' '$entry/vmlinux.h' &&
	grep -qx 'struct sched_ext_ops {' '$entry/vmlinux.h' &&
	[ \"\$(tail -n 1 '$entry/vmlinux.h')\" = '#endif /* __VMLINUX_H__ */' ]"
kts_check "capabilities.json: the fake's ops, its scx kfuncs from the .BTF_ids set, its release" \
	caps "$entry" 'c["ops"] == ["select_cpu", "enqueue", "dispatch", "init", "exit", "name"]
		and c["kfuncs"] == ["scx_bpf_consume", "scx_bpf_dispatch"] and c["kfuncs_from"] == "btf_ids"
		and c["release"] == "0.0.0-fake" and c["sched_ext"] is True
		and c["options"]["CONFIG_SCHED_CLASS_EXT"] == "y"'
line='ktscope: capabilities: 0.0.0-fake, 6 sched_ext_ops members, 2 scx_bpf_\* kfuncs'
kts_check "one line says what the manifest holds" grep -qx "$line (from btf_ids)" "$work/b1.err"
kts_check "no headers/ and no headers_install without --headers" eval "
	[ ! -e '$entry/headers' ] && ! grep -q headers_install '$entry/build.log'"

# ---- 2. --headers: not in the key; a hit without headers/ is rebuilt, said once ----------
ino=$(stat -c %i "$entry")
run b2 B --source "$T" --headers
kts_check "--headers on the cached entry: exit 0, the same key" \
	eval "[ $rc = 0 ] && [ '$(key_of b2)' = '$key' ]"
[ $rc = 0 ] || kts_diag "$(tail -20 "$work/b2.err")"
kts_check "… rebuilt, with one notice saying why" eval "
	[ \"\$(grep -c 'headers/' '$work/b2.err')\" = 1 ] &&
	grep -qx \"ktscope: '$key' is cached without headers/; rebuilding it for --headers\" '$work/b2.err' &&
	! grep -q '^ktscope: cached:' '$work/b2.err' && [ \"\$(stat -c %i '$entry')\" != $ino ]"
kts_check "… headers_install's tree is in the entry, its output in build.log" eval "
	grep -qx '#define FAKE_KERNEL 1' '$entry/headers/include/linux/fake.h' &&
	grep -q '^### ktscope: make .* headers_install INSTALL_HDR_PATH=' '$entry/build.log'"
kts_check "… vmlinux.h and capabilities.json are still there" \
	test -s "$entry/vmlinux.h" -a -s "$entry/capabilities.json"
kts_check "nothing is left in .tmp" tmp_empty
run b3 B --source "$T"
kts_check "a build without --headers is a hit on the entry with headers/" eval "
	[ $rc = 0 ] && grep -q '^ktscope: cached: $key ' '$work/b3.err' && [ -d '$entry/headers/include' ]"
run b4 B --source "$T" --headers
kts_check "--headers again: a hit, no notice" eval "
	[ $rc = 0 ] && grep -q '^ktscope: cached: $key ' '$work/b4.err' &&
	! grep -q 'rebuilding' '$work/b4.err'"
run b5 "$KTSCOPE" kernel list
kts_check "kernel list shows the entry with headers/ as matching" \
	grep -qE "^$key +matches" "$work/b5.out"

# --headers runs rsync (the kernel's headers_install does): without it, refused before any work
mkdir "$work/norsync"
for f in /usr/bin/* /bin/*; do
	[ "${f##*/}" = rsync ] || [ -e "$work/norsync/${f##*/}" ] || ln -s "$f" "$work/norsync/"
done
PATH=$work/norsync:/usr/sbin run r1 B --source "$T" --headers
kts_check "without rsync, --headers on an entry that has headers/ is still a hit" \
	eval "[ $rc = 0 ] && grep -q '^ktscope: cached: $key ' '$work/r1.err'"
PATH=$work/norsync:/usr/sbin run r2 B --source "$T" --headers -- KTS_KIT_STEP=norsync
kts_check "without rsync, a --headers build: exit 4 naming rsync, before any work" eval "
	[ $rc = 4 ] && grep -qx \"ktscope: error: --headers: no 'rsync' in PATH, which the kernel's \\
make headers_install runs; install rsync\" '$work/r2.err' &&
	[ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels' | wc -l)\" = 1 ] && tmp_empty"
[ $rc = 4 ] || kts_diag "exit $rc: $(tail -3 "$work/r2.err")"

# Kbuild takes INSTALL_HDR_PATH unquoted: a cache path with a space is refused before any work
sp="$work/sp ace"
KTSCOPE_CACHE_DIR=$sp run q1 B --source "$T" --headers -- KTS_KIT_STEP=space
kts_check "--headers with a space in the cache path: exit 2 naming it, before any work" eval "
	[ $rc = 2 ] && grep -qx \"ktscope: error: --headers: the cache directory '$sp' has a space \\
or a shell quote, which the kernel's make headers_install cannot take; set KTSCOPE_CACHE_DIR \\
to a path without one\" '$work/q1.err' && [ -z \"\$(ls -A '$sp/kernels' 2>/dev/null)\" ]"
[ $rc = 2 ] || kts_diag "exit $rc: $(tail -3 "$work/q1.err")"

# ---- 3. FAKE_BTF=fake-next.btf: another key, another manifest ------------------------------
run n1 B --source "$T" -- FAKE_BTF=fake-next.btf
nkey=$(key_of n1)
kts_check "FAKE_BTF=fake-next.btf builds a second entry" \
	eval "[ $rc = 0 ] && [ -n '$nkey' ] && [ '$nkey' != '$key' ]"
[ $rc = 0 ] || kts_diag "$(tail -20 "$work/n1.err")"
kts_check "… whose ops gain dequeue and whose kfuncs are the 6.13 names" \
	caps "$KTSCOPE_CACHE_DIR/kernels/$nkey" '"dequeue" in c["ops"]
		and c["kfuncs"] == ["scx_bpf_dsq_insert", "scx_bpf_dsq_move_to_local"]
		and c["kfuncs_from"] == "btf_ids"'
kts_check "… and whose vmlinux.h has dequeue" \
	grep -q '(\*dequeue)' "$KTSCOPE_CACHE_DIR/kernels/$nkey/vmlinux.h"

# ---- 4. failures: no entry, nothing in .tmp, exit 1, one line -------------------------------
run f1 B --source "$T" -- FAKE_BTF=none
kts_check "a vmlinux without .BTF fails the build: exit 1, the vmlinux named once" eval "
	[ $rc = 1 ] && [ \"\$(grep -c \"/vmlinux' has no .BTF section\" '$work/f1.err')\" = 1 ] &&
	grep -q 'CONFIG_DEBUG_INFO_BTF' '$work/f1.err'"
[ $rc = 1 ] || kts_diag "exit $rc: $(tail -5 "$work/f1.err")"
kts_check "… no entry (the two built are all) and nothing in .tmp" eval "
	[ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels' | wc -l)\" = 2 ] && tmp_empty"
if "$KTSCOPE" --version | grep -qx 'test-hooks: yes'; then
	for step in vmlinux-h capabilities; do
		what=vmlinux.h
		[ $step = capabilities ] && what=capabilities.json
		KTSCOPE_TEST_HOOK=$step:fail run h-$step B --source "$T" -- KTS_KIT_STEP=$step
		kts_check "$step fails: exit 1, 'cannot write $what' once, no entry, nothing in .tmp" eval "
			[ $rc = 1 ] &&
			[ \"\$(grep -c 'cannot write $what: Input/output error' '$work/h-$step.err')\" = 1 ] &&
			[ \"\$(ls '$KTSCOPE_CACHE_DIR/kernels' | wc -l)\" = 2 ] && tmp_empty"
		[ $rc = 1 ] || kts_diag "exit $rc: $(tail -5 "$work/h-$step.err")"
	done
else
	kts_skip "vmlinux-h fails: no entry, nothing in .tmp" "test hooks not compiled in"
	kts_skip "capabilities fails: no entry, nothing in .tmp" "test hooks not compiled in"
fi
run j1 B --source "$T" --json-events -- KTS_KIT_STEP=events
kts_check "--json-events: vmlinux_h and capabilities start and end, in order" python3 -c '
import json, sys
ph = [(e["phase"], e["state"]) for e in map(json.loads, open(sys.argv[1])) if e["event"] == "phase"]
kit = [p for p in ph if p[0] in ("vmlinux_h", "capabilities")]
sys.exit(0 if kit == [("vmlinux_h", "start"), ("vmlinux_h", "end"), ("capabilities", "start"),
		      ("capabilities", "end")] else 1)' "$work/j1.out"
kts_check "the failed builds' logs are kept" test -n "$(ls "$KTSCOPE_CACHE_DIR/logs" 2>/dev/null)"
run c1 "$KTSCOPE" kernel clean --force
kts_check "kernel clean removes every entry, headers/ trees too, and leaves nothing in .tmp" eval "
	[ $rc = 0 ] && [ -z \"\$(ls -A '$KTSCOPE_CACHE_DIR/kernels')\" ] && tmp_empty"
kts_check "no build is left running" eval "! pgrep -f '__build-inner $KTSCOPE_CACHE_DIR/' >/dev/null"

kts_done 2>/dev/null || exit $((kts_nfail > 0))
