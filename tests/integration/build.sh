#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `ktscope build` and `ktscope kernel` on the fake kernel tree (tests/data/fake-kernel),
# against the real confined systemd user manager: make and every compiler in the
# build's scope with the planned CPUs while the parent keeps the locks, cache hits
# that run no make, dirty trees, edits during a build, concurrent builds of one tree,
# interrupted builds, corrupt entries, bad inputs. Private cache and lock dirs.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_reexec_inside_manager "$here/build.sh" "$@"
set -m

work=$(mktemp -d /tmp/ktscope-build-test.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS FAKE_KERNEL_SLEEP \
	FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
bg_pids=()
cleanup() {
	local p
	# set -m: each background job is its own process group, killed whole
	for p in "${bg_pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

B() { "$KTSCOPE" --user build "$@"; }
KL() { "$KTSCOPE" kernel "$@"; }

# new_tree NAME: a git work tree of the fake kernel, committed, clean.
new_tree() { kts_fake_tree "$work/$1"; }
entries() { ls "$KTSCOPE_CACHE_DIR/kernels" 2>/dev/null | wc -l; }
cc_runs() { [ -f "$1/fakecc.log" ] && wc -l <"$1/fakecc.log" || echo 0; }
# (an empty name is never gone: systemctl shows nothing for it, which is not "loaded")
unit_gone() { [ -n "$1" ] && [ "$(systemctl --user show -p LoadState --value "$1" 2>/dev/null)" != loaded ]; }
# hit_of FILE: the key of the "ktscope: cached: KEY (built …)" line in FILE (not "not cached:")
hit_of() { sed -n 's/^ktscope: cached: \([^ ]*\) (built .*/\1/p' "$1"; }
locks_free() {
	local f
	for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock; do
		[ -e "$f" ] || continue
		flock -n -x "$f" true || return 1
	done
}
no_build_processes() { ! pgrep -f "__build-inner $KTSCOPE_CACHE_DIR/" >/dev/null && ! pgrep -f "make -C $1" >/dev/null; }

kts_plan 78

# ---- 1. a clean git tree: built in the scope, stored, listed ---------------------------
T=$(new_tree t1)
B --source "$T" >"$work/b1.out" 2>"$work/b1.err"
rc=$?
kts_check "a clean fake tree builds (exit 0)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -20 "$work/b1.err")"
img=$(tail -n 1 "$work/b1.out")
key=$(basename "$(dirname "$img")")
entry=$KTSCOPE_CACHE_DIR/kernels/$key
kts_check "stdout is the cached image path" test -f "$img" -a "$(basename "$img")" = bzImage
kts_check "the key is local-{commit12}-x86_64-{12 hex}" \
	grep -qE "^local-$(git -C "$T" rev-parse HEAD | cut -c1-12)-$(uname -m)-[0-9a-f]{12}\$" <<<"$key"
kts_check "the entry has vmlinux, config, metadata.json, kconfig-report.json, build.log" \
	test -f "$entry/vmlinux" -a -f "$entry/config" -a -f "$entry/metadata.json" \
	-a -f "$entry/kconfig-report.json" -a -f "$entry/build.log"
kts_check "no temporary store directory is left" test -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp")"
cgs=$(sed -n 's/.* cgroup=\([^ ]*\) .*/\1/p' "$T/fakecc.log" | sort -u)
cpus=$(sed -n 's/.* cpus=\(.*\)$/\1/p' "$T/fakecc.log" | sort -u)
kts_diag "compilers ran in: $cgs on CPUs $cpus"
kts_check "every compiler ran in one ktscope-build scope in ktscope.slice" \
	grep -qxE '/ktscope\.slice/ktscope-build-[0-9]+-[0-9a-f]{8}\.scope' <<<"$cgs"
plan_cpus=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["cpus"])' \
	"$entry/metadata.json")
kts_check "every compiler ran on exactly the planned CPUs ($plan_cpus)" test "$cpus" = "$plan_cpus"
# ncpus: the number of CPUs in a cpulist ("0-1,4" is 3)
ncpus='
def ncpus(s):
    n = 0
    for part in s.split(","):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n
'
kts_check "metadata records the enforcement (affinity on this host), make_jobs = planned CPUs, the tree's filesystem" \
	python3 -c "$ncpus"'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["schema"] == 1 and m["plan"]["enforcement"] == "affinity", m["plan"]
assert m["make_jobs"] == ncpus(m["plan"]["cpus"]) >= 1, (m["make_jobs"], m["plan"]["cpus"])
assert m["source"]["kind"] == "local" and m["source"]["dirty"] is False
# the filesystem holding the tree is always named, even where no UUID can be read
assert m["source"]["fs_type"], m["source"]
assert m["sizes"]["vmlinux_unstripped"] >= m["sizes"]["vmlinux"] > 0
' "$entry/metadata.json"
# make's own view: MAKEFLAGS has "-jN" (nothing for one job; a bare "-j" is unlimited)
kts_check "make ran with -jN, N the number of planned CPUs ($plan_cpus)" \
	python3 -c "$ncpus"'
import sys
flags = open(sys.argv[1]).read().split()
flags = flags[:flags.index("--")] if "--" in flags else flags
j = [f[2:] for f in flags if f.startswith("-j")]
jobs = (int(j[-1]) if j[-1] else 0) if j else 1
assert jobs == ncpus(sys.argv[2]), (flags, sys.argv[2])
' "$T/make-flags" "$plan_cpus"
kts_check "the build's scope is gone and the locks are free" locks_free
KL list >"$work/list.out"
kts_check "kernel list shows the entry as matching" grep -qE "^$key +matches" "$work/list.out"

# ---- 2. cache hit: no make ---------------------------------------------------------------
n=$(cc_runs "$T")
B --source "$T" >"$work/b2.out" 2>"$work/b2.err"
rc=$?
kts_check "a second build of the same tree is a cache hit (exit 0, 'cached')" \
	eval "[ $rc = 0 ] && grep -q 'cached: $key' '$work/b2.err'"
kts_check "the cache hit ran no compiler" test "$(cc_runs "$T")" = "$n"
kts_check "the cache hit prints the same image path" test "$(tail -n 1 "$work/b2.out")" = "$img"

# ---- 2b. the toolchain fingerprint is probed once per binary, not per build ---------------
mkdir -p "$work/bin"
printf '#!/bin/sh\necho probe >>%s/pahole.calls\necho v1.24\n' "$work" >"$work/bin/pahole"
chmod +x "$work/bin/pahole"
PATH=$work/bin:$PATH B --source "$T" >/dev/null 2>&1
PATH=$work/bin:$PATH B --source "$T" >/dev/null 2>&1
kts_check "pahole --version ran once for two builds (fingerprint cached by the binary's identity)" \
	test "$(wc -l <"$work/pahole.calls")" = 1
touch -d '2001-01-01' "$work/bin/pahole"
PATH=$work/bin:$PATH B --source "$T" >/dev/null 2>&1
kts_check "a changed binary is probed again" test "$(wc -l <"$work/pahole.calls")" = 2

# ---- 3. a dirty tree is cached under a dirty key -----------------------------------------
echo "/* local change */" >>"$T/fake.c"
B --source "$T" >"$work/b3.out" 2>"$work/b3.err"
rc=$?
dkey=$(basename "$(dirname "$(tail -n 1 "$work/b3.out")")")
kts_check "a dirty tree builds and is cached under local-…-dirty-…" \
	eval "[ $rc = 0 ] && grep -qE '^local-[0-9a-f]{12}-dirty-[0-9a-f]{12}-' <<<'$dkey' && [ -d '$KTSCOPE_CACHE_DIR/kernels/$dkey' ]"
KL list --json >"$work/list.json"
kts_check "kernel list --json marks it dirty and the clean one not" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
by = {e["key"]: e for e in d["entries"]}
assert by[sys.argv[2]]["dirty"] is True and by[sys.argv[3]]["dirty"] is False, by
assert d["entries"][0]["key"] == sys.argv[2], "newest first"
for e in d["entries"]:
    for k in ("key", "label", "status", "dirty", "extra_kconfig", "arch", "image_path", "built_at", "source", "sizes"):
        assert k in e, k
' "$work/list.json" "$dkey" "$key"
git -C "$T" checkout -q fake.c

# ---- 4. an edit during the build: built, not cached ----------------------------------------
T4=$(new_tree t4)
FAKE_KERNEL_SLEEP=0.3 "$KTSCOPE" --user build --source "$T4" >"$work/b4.out" 2>"$work/b4.err" &
b4=$!
bg_pids+=($b4)
kts_wait_until 20 test -s "$T4/fakecc.log"
echo "/* edited while building */" >>"$T4/fake.c"
wait $b4
rc=$?
kts_check "a tree edited during its build still builds (exit 0)" test $rc = 0
kts_check "… but is not cached, and the reason is printed" \
	eval "grep -q 'not cached: .*changed' '$work/b4.err' && [ \$(ls '$KTSCOPE_CACHE_DIR/kernels' | grep -c '^local-$(git -C "$T4" rev-parse HEAD | cut -c1-12)') = 0 ]"

# ---- 5. two concurrent builds of one tree: the second waits, then hits the cache -----------
T5=$(new_tree t5)
FAKE_KERNEL_SLEEP=0.3 "$KTSCOPE" --user build --source "$T5" >"$work/b5a.out" 2>"$work/b5a.err" &
b5a=$!
bg_pids+=($b5a)
kts_wait_until 20 test -s "$T5/fakecc.log"
"$KTSCOPE" --user build --source "$T5" >"$work/b5b.out" 2>"$work/b5b.err" &
b5b=$!
bg_pids+=($b5b)
wait $b5a
rca=$?
wait $b5b
rcb=$?
kts_check "both concurrent builds succeed" test $rca = 0 -a $rcb = 0
kts_check "the second one said it waited for the first (naming its pid)" \
	grep -q "source tree '.*t5' is being built by pid $b5a" "$work/b5b.err"
k5=$(basename "$(dirname "$(tail -n 1 "$work/b5a.out")")")
kts_check "the second one then found the first's entry in the cache ($k5)" \
	test -n "$k5" -a "$(hit_of "$work/b5b.err")" = "$k5"
kts_check "the compilers ran once (8 objects + vmlinux link)" test "$(cc_runs "$T5")" = 9

# ---- 6. interrupted builds leave nothing --------------------------------------------------
for sig in INT KILL; do
	T6=$(new_tree t6-$sig)
	before=$(entries)
	# SIGINT at its default for ktscope, whatever the caller of this script ignores (a
	# background job of a non-interactive shell inherits SIGINT ignored).
	FAKE_KERNEL_SLEEP=1 env --default-signal=INT "$KTSCOPE" --user build --source "$T6" \
		>"$work/b6.out" 2>"$work/b6-$sig.err" &
	b6=$!
	bg_pids+=($b6)
	kts_wait_until 20 test -s "$T6/fakecc.log"
	unit=$(sed -n 's/.* cgroup=\/ktscope\.slice\/\([^ ]*\) .*/\1/p' "$T6/fakecc.log" | head -n 1)
	kill -$sig $b6
	wait $b6 2>/dev/null
	rc=$?
	[ $sig = INT ] && kts_check "SIGINT mid-make: ktscope exits 130" test $rc = 130
	kts_wait_until 20 unit_gone "$unit"
	kts_check "SIG$sig mid-make: no unit (${unit:-none found}), no make/compiler left" \
		eval "[[ '$unit' == ktscope-build-*.scope ]] && unit_gone '$unit' &&
		      kts_wait_until 10 no_build_processes '$T6'"
	kts_check "SIG$sig mid-make: no entry stored, locks free" \
		eval "[ $(entries) = $before ] && kts_wait_until 3 locks_free"
done
kts_check "SIGKILL's leftover stage directory is swept by the next build" \
	eval "B --source '$T' >/dev/null 2>&1 && [ -z \"\$(ls -A '$KTSCOPE_CACHE_DIR/.tmp' | grep -v '^src\\.')\" ]"

# ---- 7. failures -------------------------------------------------------------------------
T7=$(new_tree t7)
FAKE_KERNEL_FAIL=1 B --source "$T7" >/dev/null 2>"$work/b7.err"
rc=$?
kept=$(sed -n "s/.*full log: '\(.*\)'$/\1/p" "$work/b7.err")
kts_check "a failing make exits 1, shows the log's tail and names the kept log" \
	eval "[ $rc = 1 ] && grep -q 'FAKE_KERNEL_FAIL is set' '$work/b7.err' && grep -q 'FAKE_KERNEL_FAIL is set' '$kept'"
kts_check "… and stores nothing" test -z "$(ls "$KTSCOPE_CACHE_DIR/kernels" | grep "^local-$(git -C "$T7" rev-parse HEAD | cut -c1-12)")"

printf '# CONFIG_BPF_SYSCALL is not set\n' >"$work/nobpf.config"
B --source "$T7" --extra-kconfig "$work/nobpf.config" >/dev/null 2>"$work/b8.err"
rc=$?
kts_check "a fragment disabling BPF_SYSCALL fails validation naming the symbol and the fragment" \
	eval "[ $rc = 1 ] && grep -q 'CONFIG_BPF_SYSCALL' '$work/b8.err' && grep -q 'nobpf.config' '$work/b8.err'"

B --source "$T7" --extra-kconfig "$work/missing.config" >/dev/null 2>"$work/b9.err"
kts_check "a missing extra fragment: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q 'missing.config' '$work/b9.err'"
: >"$work/empty.config"
B --source "$T7" --extra-kconfig "$work/empty.config" >/dev/null 2>"$work/b9.err"
kts_check "an empty extra fragment: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q 'empty.config' '$work/b9.err'"
head -c 64 /bin/true >"$work/binary.config"
B --source "$T7" --extra-kconfig "$work/binary.config" >/dev/null 2>"$work/b9.err"
kts_check "a binary extra fragment: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q 'binary.config' '$work/b9.err'"
mkdir "$work/notkernel"
B --source "$work/notkernel" >/dev/null 2>"$work/b10.err"
kts_check "a directory without Makefile and Kconfig: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q 'notkernel' '$work/b10.err'"
B --source "$T7" --base nosuchconfig >/dev/null 2>"$work/b11.err"
kts_check "an unknown --base: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q \"'nosuchconfig'\" '$work/b11.err'"
: >"$work/afile"
KTSCOPE_CACHE_DIR=$work/afile/cache B --source "$T7" >/dev/null 2>"$work/b12.err"
rc=$?
kts_check "an unwritable cache directory: exit 4 with a message naming it" \
	eval "[ $rc = 4 ] && grep -q '$work/afile/cache' '$work/b12.err'"
KTSCOPE_CACHE_DIR=relative/cache B --source "$T7" >/dev/null 2>"$work/b13.err"
kts_check "a relative KTSCOPE_CACHE_DIR: exit 4 naming the variable" \
	eval "[ $? = 4 ] && grep -q KTSCOPE_CACHE_DIR '$work/b13.err'"
# No manager: exit 4 before a tarball is unpacked (or CPUs are waited for).
tar -cJf "$work/fake.tar.xz" -C "$work" t7
DBUS_SESSION_BUS_ADDRESS=unix:path=$work/no-bus XDG_RUNTIME_DIR=$work/no-runtime \
	B --tarball "$work/fake.tar.xz" >/dev/null 2>"$work/b13b.err"
rc=$?
kts_check "no user manager: exit 4 with the fix, before anything is unpacked" \
	eval "[ $rc = 4 ] && grep -q 'cannot reach the systemd user manager' '$work/b13b.err' &&
	      ! grep -q unpacking '$work/b13b.err' &&
	      [ -z \"\$(ls -A '$KTSCOPE_CACHE_DIR/.tmp' 2>/dev/null)\" ]"

# ---- 8. fragments: overrides and dropped lines are reported --------------------------------
T8=$(new_tree t8)
printf 'CONFIG_FAKE_UNSUPPORTED=y\n# CONFIG_IKCONFIG is not set\n' >"$work/extra.config"
B --source "$T8" --extra-kconfig "$work/extra.config" >"$work/b14.out" 2>"$work/b14.err"
rc=$?
kts_check "a build with an extra fragment succeeds" test $rc = 0
kts_check "overriding a baked-in line warns, naming the fragment" \
	grep -q "extra.config'*:2 overrides ktscope's CONFIG_IKCONFIG" "$work/b14.err"
kts_check "a requested line that did not survive olddefconfig warns" \
	grep -q "CONFIG_FAKE_UNSUPPORTED=y .*did not survive" "$work/b14.err"
e8=$(dirname "$(tail -n 1 "$work/b14.out")")
kts_check "kconfig-report.json records the dropped line as not survived" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
l = {x["symbol"]: x for x in r["lines"]}
assert l["CONFIG_FAKE_UNSUPPORTED"]["survived"] is False and l["CONFIG_FAKE_UNSUPPORTED"]["final"] is None
assert l["CONFIG_SCHED_CLASS_EXT"]["survived"] is True
' "$e8/kconfig-report.json"
KL list >"$work/list8.out"
kts_check "kernel list flags it (extra kconfig)" grep -q "(extra kconfig)" "$work/list8.out"

# ---- 9. non-git tree, --build-dir, --no-cache, --json-events -------------------------------
T9=$work/t9
cp -r "$KTS_TOP_SRCDIR/tests/data/fake-kernel" "$T9"
chmod -R u+w "$T9"
before=$(entries)
B --source "$T9" --build-dir "$work/out9" >"$work/b15.out" 2>"$work/b15.err"
rc=$?
kts_check "a non-git tree is built, not cached, with the reason" \
	eval "[ $rc = 0 ] && grep -qi 'not be cached.*git' '$work/b15.err' && [ $(entries) = $before ]"
kts_check "--build-dir builds out of tree: the image is there and the tree has no .config" \
	eval "[ \"\$(tail -n 1 '$work/b15.out')\" = '$work/out9/arch/x86/boot/bzImage' ] && [ ! -e '$T9/.config' ]"
T10=$(new_tree t10)
B --source "$T10" --no-cache --json-events >"$work/b16.out" 2>"$work/b16.err"
rc=$?
kts_check "--no-cache --json-events: exit 0, nothing stored" \
	eval "[ $rc = 0 ] && [ -z \"\$(ls '$KTSCOPE_CACHE_DIR/kernels' | grep '^local-$(git -C "$T10" rev-parse HEAD | cut -c1-12)')\" ]"
kts_check "--json-events writes NDJSON: reservation, phases, result" python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = [e["event"] for e in ev]
assert "reservation" in kinds and "phase" in kinds and kinds[-1] == "result", kinds
assert ev[-1]["status"] == "built"
assert any(e["event"] == "phase" and e.get("phase") == "make" for e in ev)
' "$work/b16.out"

# ---- 9b. make variables after --: passed to make, part of the key ------------------------------
TV=$(new_tree t9b)
B --source "$TV" -- 'FAKE_NOTE=a b' KCFLAGS=-O1 >"$work/mv1.out" 2>"$work/mv1.err"
rc=$?
mvkey=$(basename "$(dirname "$(tail -n 1 "$work/mv1.out")")")
cp "$TV/make-overrides" "$work/mv1.overrides" 2>/dev/null
B --source "$TV" >"$work/mv0.out" 2>&1
plainkey=$(basename "$(dirname "$(tail -n 1 "$work/mv0.out")")")
kts_check "with make variables a tree is built under another key than without" \
	eval "[ $rc = 0 ] && [ -n '$mvkey' ] && [ -n '$plainkey' ] && [ '$mvkey' != '$plainkey' ]"
# (make lists command-line variables last first, spaces escaped)
kts_check "make got the variables on its command line" \
	grep -qxF 'KCFLAGS=-O1 FAKE_NOTE=a\ b' "$work/mv1.overrides"
kts_check "metadata.json lists the variables, sorted by name" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["make_vars"] == ["FAKE_NOTE=a b", "KCFLAGS=-O1"], m["make_vars"]
' "$KTSCOPE_CACHE_DIR/kernels/$mvkey/metadata.json"
B --source "$TV" -- KCFLAGS=-O2 'FAKE_NOTE=a b' KCFLAGS=-O1 >/dev/null 2>"$work/mv2.err"
kts_check "the same variables in another order, one repeated (last wins): a cache hit" \
	eval "[ $? = 0 ] && grep -q 'cached: $mvkey' '$work/mv2.err'"
kts_check "kernel show prints the make variables" \
	eval "KL show '$mvkey' | grep -qx 'make vars:    FAKE_NOTE=a b KCFLAGS=-O1'"
B --source "$T" -- -j4 >/dev/null 2>"$work/mv3.err"
kts_check "a make argument that is not NAME=VALUE: exit 2 naming it" \
	eval "[ $? = 2 ] && grep -q \"invalid make variable '-j4'\" '$work/mv3.err'"
B --source "$T" -- O=/tmp/elsewhere >/dev/null 2>"$work/mv4.err"
kts_check "O= after --: exit 2 pointing to --build-dir" \
	eval "[ $? = 2 ] && grep -q 'O=/tmp/elsewhere.*--build-dir' '$work/mv4.err'"
B --source "$T" -- CC=no-such-cc-kts >/dev/null 2>"$work/mv5.err"
kts_check "a compiler chosen with CC= that is not installed: exit 4 naming it" \
	eval "[ $? = 4 ] && grep -q \"'no-such-cc-kts' found (from CC=no-such-cc-kts)\" '$work/mv5.err'"
B --source "$T" -- LD=no-such-ld-kts >/dev/null 2>"$work/mv6.err"
kts_check "a linker chosen with LD= that is not installed: exit 4 naming it" \
	eval "[ $? = 4 ] && grep -q \"linker 'no-such-ld-kts' found (from LD=no-such-ld-kts)\" '$work/mv6.err'"

# ---- 9c. the parent's steps: no image, staged inputs, one build per key, a deleted binary ------
T11=$(new_tree t11)
FAKE_KERNEL_NO_IMAGE=1 B --source "$T11" >/dev/null 2>"$work/ni.err"
rc=$?
kts_check "make that produced no image: a build failure (exit 1) naming the image" \
	eval "[ $rc = 1 ] && grep -q 'did not produce' '$work/ni.err'"

# hold_llcs: every LLC lock held exclusively by flock(1) processes; their pids in llc_holders.
hold_llcs() {
	local f
	llc_holders=()
	for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock; do
		flock -F -x "$f" sleep 300 &
		llc_holders+=($!)
		bg_pids+=($!)
	done
	kts_wait_until 5 eval '! locks_free'
}
release_llcs() { kill "${llc_holders[@]}" 2>/dev/null; wait "${llc_holders[@]}" 2>/dev/null; }
waiting_for_cpus() { grep -q 'waiting for the reservation' "$1"; }

# An extra fragment edited while the build waits for CPUs: the build uses the bytes it hashed.
T12=$(new_tree t12)
printf 'CONFIG_FAKE_STAGED=y\n' >"$work/staged.config"
old_sha=$(sha256sum "$work/staged.config" | cut -d' ' -f1)
hold_llcs
"$KTSCOPE" --user build --source "$T12" --extra-kconfig "$work/staged.config" >"$work/st.out" \
	2>"$work/st.err" &
st=$!
bg_pids+=($st)
kts_wait_until 20 waiting_for_cpus "$work/st.err"
printf 'CONFIG_FAKE_EDITED=y\n' >"$work/staged.config"
release_llcs
wait $st
rc=$?
stentry=$(dirname "$(tail -n 1 "$work/st.out")")
kts_check "a fragment edited while the build waited for CPUs: built from the bytes it hashed" \
	eval "[ $rc = 0 ] && grep -qx 'CONFIG_FAKE_STAGED=y' '$stentry/config' && ! grep -q FAKE_EDITED '$stentry/config'"
kts_check "… and the entry's key and metadata name those bytes" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert [e["sha256"] for e in m["extra_kconfig"]] == [sys.argv[2]], m["extra_kconfig"]
assert m["extra_kconfig"][0]["path"].endswith("staged.config"), m["extra_kconfig"]
' "$stentry/metadata.json" "$old_sha"
printf 'CONFIG_FAKE_STAGED=y\n' >"$work/staged.config"
B --source "$T12" --extra-kconfig "$work/staged.config" >/dev/null 2>"$work/st2.err"
kts_check "the old bytes again: a cache hit on that entry" \
	grep -q "cached: $(basename "$stentry")" "$work/st2.err"

# Two concurrent builds of one tarball: one builds, the other waits for its key and hits.
tar -cJf "$work/conc.tar.xz" -C "$work" t11
conc_made=$SECONDS
FAKE_KERNEL_SLEEP=0.3 "$KTSCOPE" --user build --tarball "$work/conc.tar.xz" >"$work/ca.out" 2>"$work/ca.err" &
ca=$!
bg_pids+=($ca)
kts_wait_until 30 grep -q unpacking "$work/ca.err"
"$KTSCOPE" --user build --tarball "$work/conc.tar.xz" >"$work/cb.out" 2>"$work/cb.err" &
cb=$!
bg_pids+=($cb)
wait $ca
rca=$?
wait $cb
rcb=$?
kts_check "two concurrent builds of one tarball both succeed" test $rca = 0 -a $rcb = 0
[ -f "$work/cb.err" ] && kts_diag "$(head -5 "$work/cb.err")"
kts_check "… the second waited for the first's key, naming its pid" \
	grep -q "'tar-.*' is being built by pid $ca" "$work/cb.err"
kts_check "… and then hit the cache instead of building (one entry, same image)" \
	eval "[ -n \"\$(hit_of '$work/cb.err')\" ] && ! grep -q unpacking '$work/cb.err' && [ \"\$(tail -n 1 '$work/ca.out')\" = \"\$(tail -n 1 '$work/cb.out')\" ]"

# The tarball's SHA-256 is memoized by its identity once the file is 2 s old (source-memo.h).
[ $((SECONDS - conc_made)) -ge 3 ] || sleep 3
"$KTSCOPE" --user build --tarball "$work/conc.tar.xz" >/dev/null 2>"$work/cc.err"
kts_check "a later hit keeps the tarball's SHA-256 in {cache}/.tarballs" \
	eval "[ -n \"\$(hit_of '$work/cc.err')\" ] && grep -q \"^$work/conc.tar.xz .*	$(sha256sum "$work/conc.tar.xz" | cut -c1-64)\$\" '$KTSCOPE_CACHE_DIR/.tarballs'"
"$KTSCOPE" -v --user build --tarball "$work/conc.tar.xz" >/dev/null 2>"$work/cd.err"
kts_check "… and the next one hits without reading the file" \
	eval "[ -n \"\$(hit_of '$work/cd.err')\" ] && grep -q 'SHA-256 from the memo' '$work/cd.err'"

# The binary deleted while a build waits (a package upgrade): the in-scope half still runs.
T13=$(new_tree t13)
cp "$KTSCOPE" "$work/ktscope-copy"
hold_llcs
"$work/ktscope-copy" --user build --source "$T13" >"$work/del.out" 2>"$work/del.err" &
del=$!
bg_pids+=($del)
kts_wait_until 20 waiting_for_cpus "$work/del.err"
rm -f "$work/ktscope-copy"
release_llcs
wait $del
rc=$?
kts_check "ktscope deleted while its build waited: the build still runs in the scope (exit 0)" \
	eval "[ $rc = 0 ] && [ -f \"\$(tail -n 1 '$work/del.out')\" ] && [ \$(cc_runs '$T13') -gt 0 ]"

# ---- 10. kernel show / path / clean; corrupt entries ---------------------------------------
KL show "$key" --json >"$work/show.json"
kts_check "kernel show --json gives the metadata and the image path" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["key"] == sys.argv[2] and m["image_path"].endswith("/bzImage")
' "$work/show.json" "$key"
kts_check "kernel path KEY prints only the image path" test "$(KL path "$key")" = "$img"
kts_check "kernel path of the tree's label finds it" test -n "$(KL path "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["label"])' "$work/show.json")")"
KL path nosuchkey >/dev/null 2>"$work/p.err"
kts_check "kernel path of an unknown key: exit 1 with a message" \
	eval "[ $? = 1 ] && grep -q nosuchkey '$work/p.err'"
echo '{ not json' >"$KTSCOPE_CACHE_DIR/kernels/$dkey/metadata.json"
KL list >"$work/list10.out" 2>&1
rc=$?
kts_check "a corrupt entry is listed with its reason, not fatal" \
	eval "[ $rc = 0 ] && grep -qE '^$dkey +corrupt +metadata.json' '$work/list10.out'"
KL clean --corrupt-only </dev/null >/dev/null 2>"$work/c.err"
kts_check "kernel clean without --force and no tty refuses (exit 2)" \
	eval "[ $? = 2 ] && [ -d '$KTSCOPE_CACHE_DIR/kernels/$dkey' ]"
KL clean --corrupt-only --dry-run >"$work/c.out" 2>&1
kts_check "kernel clean --dry-run lists, removes nothing" \
	eval "grep -q 'would remove $dkey' '$work/c.out' && [ -d '$KTSCOPE_CACHE_DIR/kernels/$dkey' ]"
n=$(entries)
KL clean --corrupt-only --force >/dev/null 2>&1
kts_check "kernel clean --corrupt-only --force removes only the corrupt entry, keeps .locks" \
	eval "[ ! -e '$KTSCOPE_CACHE_DIR/kernels/$dkey' ] && [ $(entries) = $((n - 1)) ] && [ -d '$KTSCOPE_CACHE_DIR/.locks' ]"
KL clean --keep 1 --force >/dev/null 2>&1
kts_check "kernel clean --keep 1 leaves exactly one entry" test "$(entries)" = 1

kts_done 2>/dev/null || exit $((kts_nfail > 0))
