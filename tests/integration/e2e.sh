#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End to end on a real kernel: Debian's linux-source-6.12 built by ktscope inside a
# real transient scope of the confined user manager, with ccache (its default directory
# in the private cache): from the tarball (cold: every compile a miss), the same tarball
# again with --force (extracted to a new path: ccache hits, and the reproducible stamps
# make the image and the stripped vmlinux byte-identical), and the same bytes as a git
# tree at a third path (the package's .gitignore ignores everything: those lines are
# dropped), which must take >= 90% of its compiles from ccache. Between them the cold build's
# entry goes through a real OCI registry (Debian's docker-registry on 127.0.0.1): pushed from
# this cache, pulled into an empty one byte for byte, and pulled instead of built by
# `build --remote` into a third. The cold build's entry is also what a scheduler developer
# gets (issue 14, tests/scx/checks.sh): its vmlinux.h and capabilities.json, the manifest
# against the tree's kernel/sched/ext.c, the telemetry line, and tests/scx/run-guest: the
# bzImage booted under qemu takes the test's sched_ext scheduler and runs work under it.
# The cold build takes minutes, so this runs once per CI run (KTS_E2E=1, set by
# tests/run-all.sh for its e2e step, which runs this test alone), not again under ASan
# or distcheck.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/registry-lib.sh"

tarball=${KTS_E2E_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
if [ "${KTS_E2E:-}" != 1 ]; then
	echo "1..0 # SKIP the real-kernel builds run once per CI run, alone, in run-all.sh's e2e step (set KTS_E2E=1)"
	exit 0
fi
[ -r "$tarball" ] || kts_skip_all "no kernel tarball '$tarball' (apt-get install linux-source-6.12)"
for tool in make gcc flex bison bc pahole ccache; do
	command -v $tool >/dev/null || kts_skip_all "no '$tool' (apt-get install build-essential flex bison bc dwarves libelf-dev libssl-dev ccache)"
done

. "$here/../scx/checks.sh"
kts_registry_need
kts_find_ktscope
kts_reexec_inside_manager "$here/e2e.sh" "$@"

work=$(mktemp -d /var/tmp/ktscope-e2e.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_CCACHE CCACHE_DIR \
	SOURCE_DATE_EPOCH
# ccache's default directory in the private cache: no user configuration names another
export CCACHE_CONFIGPATH=$work/ccache.conf
: >"$CCACHE_CONFIGPATH"
trap 'kts_kill_bg; rm -rf "$work"' EXIT
ncpu=$(nproc)

kts_plan $((24 + scx_n_entry + scx_n_guest + scx_n_source))

# ---- the tarball -----------------------------------------------------------------------
start=$(date +%s)
"$KTSCOPE" --user build --tarball "$tarball" --base tinyconfig --cpu-cap "$ncpu" --ccache \
	>"$work/t.out" 2>"$work/t.err"
rc=$?
kts_diag "tarball build: exit $rc in $(($(date +%s) - start)) s"
kts_check "the tarball builds with --base tinyconfig inside a scope (exit 0)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(tail -n 50 "$work/t.err")"
img=$(tail -n 1 "$work/t.out")
kts_check "the image is a bzImage (x86 boot sector magic)" \
	eval "[ -f '$img' ] && [ \"\$(od -An -tx1 -j 510 -N 2 '$img' | tr -d ' ')\" = 55aa ]"
entry=$(dirname "$img")
kts_check "the critical symbols are =y in the cached config" eval "
	for s in SCHED_CLASS_EXT BPF_SYSCALL DEBUG_INFO_BTF FTRACE KPROBE_EVENTS BPF_EVENTS; do
		grep -qx \"CONFIG_\$s=y\" '$entry/config' || exit 1
	done"
kts_check "the build ran in a ktscope-build scope and said how it was enforced" \
	grep -qE "unit ktscope-build-[0-9]+-[0-9a-f]{8}\.scope .* enforcement (affinity|cgroup)" "$work/t.err"
kts_check "the stripped vmlinux keeps .BTF and .symtab, no debug sections, smaller" python3 -c '
import json, subprocess, sys
m = json.load(open(sys.argv[1] + "/metadata.json"))
assert 0 < m["sizes"]["vmlinux"] < m["sizes"]["vmlinux_unstripped"], m["sizes"]
out = subprocess.run(["readelf", "-S", "-W", sys.argv[1] + "/vmlinux"], capture_output=True, text=True).stdout
assert " .BTF " in out and " .symtab " in out, out[:400]
assert " .debug_" not in out and " .comment " not in out and " .BTF_ids " not in out, out
' "$entry"
key=$(basename "$entry")
kts_check "kernel list shows it as matching" \
	eval "'$KTSCOPE' kernel list | grep -qE '^$key +matches'"
kts_check "kernel path KEY gives the bzImage" test "$("$KTSCOPE" kernel path "$key")" = "$img"
kts_check "the extracted tree was removed after the build" \
	test -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp" 2>/dev/null)"

# ---- the scheduler kit: vmlinux.h, the manifest, telemetry; the entry in a guest ----------
scx_entry_checks "$entry" "$key" "$work/t.err"
start=$(date +%s)
scx_guest_checks "$entry"
kts_diag "guest tier (compile, initramfs, boot, attach, work, detach): $(($(date +%s) - start)) s"
start=$(date +%s%N)
"$KTSCOPE" --user build --tarball "$tarball" --base tinyconfig --cpu-cap "$ncpu" \
	>"$work/t2.out" 2>"$work/t2.err"
rc=$?
kts_diag "tarball cache hit: $((($(date +%s%N) - start) / 1000000)) ms"
kts_check "the second tarball build is a cache hit" \
	eval "[ $rc = 0 ] && grep -q '^ktscope: cached: $key (built ' '$work/t2.err'"

# ---- the entry through a real registry: cache A -> registry -> caches B and C --------------
kts_registry_start reg "$work/registry"
remote=oci://$reg_host/ktscope/e2e
"$KTSCOPE" kernel push "$key" --remote "$remote" >"$work/push.out" 2>"$work/push.err"
rc=$?
kts_diag "push: $(tail -n 1 "$work/push.err")"
kts_check "the real kernel's entry is pushed to the registry (exit 0)" test $rc = 0
KTSCOPE_CACHE_DIR=$work/cache-b "$KTSCOPE" kernel pull "$key" --remote "$remote" \
	>"$work/pull.out" 2>"$work/pull.err"
rc=$?
kts_diag "pull: $(tail -n 1 "$work/pull.err")"
# same_entry A B: the same file names in both directories, each byte-identical
same_entry() {
	local f
	[ "$(cd "$1" && ls -A | sort)" = "$(cd "$2" && ls -A | sort)" ] || return 1
	for f in $(cd "$1" && ls -A); do
		cmp -s "$1/$f" "$2/$f" || return 1
	done
}
kts_check "an empty second cache pulls it, every file byte-identical" \
	eval "[ $rc = 0 ] && same_entry '$entry' '$work/cache-b/kernels/$key'"
kts_check "kernel list in the second cache shows it as matching" eval "
	KTSCOPE_CACHE_DIR='$work/cache-b' '$KTSCOPE' kernel list | grep -qE '^$key +matches'"
start=$(date +%s%N)
KTSCOPE_CACHE_DIR=$work/cache-c "$KTSCOPE" --user build --tarball "$tarball" --base tinyconfig \
	--cpu-cap "$ncpu" --remote "$remote" >"$work/r.out" 2>"$work/r.err"
rc=$?
kts_diag "build --remote into an empty cache: exit $rc in $((($(date +%s%N) - start) / 1000000)) ms"
kts_check "build --remote into an empty third cache pulls the entry instead of building it" eval "
	[ $rc = 0 ] && grep -q '^ktscope: pulled: $key' '$work/r.err' &&
	[ \"\$(tail -n 1 '$work/r.out')\" = '$work/cache-c/kernels/$key/bzImage' ]"
kts_check "the pulled entry ran no make: its build log is the one pushed" \
	cmp -s "$entry/build.log" "$work/cache-c/kernels/$key/build.log"
kts_registry_stop reg

# ---- the same tarball again (--force): ccache hits, identical bytes -----------------------
# ccache_counts ENTRY: "HITS MISSES UNCACHEABLE" of the entry's build, from its metadata.json
ccache_counts() {
	python3 -c '
import json, sys
c = json.load(open(sys.argv[1] + "/metadata.json"))["compile"]["ccache"]
print(c["hits"], c["misses"], c["uncacheable"])' "$1"
}
kts_check "the cold build's metadata has its ccache counts (all misses)" eval "
	read -r h m u <<<\"\$(ccache_counts '$entry')\" && [ \$m -gt 500 ] && [ \$h -lt \$((m / 10)) ]"
kts_diag "cold build ccache (hits misses uncacheable): $(ccache_counts "$entry" 2>&1)"
sums() { (cd "$1" && sha256sum bzImage vmlinux); }
sums "$entry" >"$work/sums.1"
start=$(date +%s)
"$KTSCOPE" --user build --tarball "$tarball" --base tinyconfig --cpu-cap "$ncpu" --ccache --force \
	>"$work/f.out" 2>"$work/f.err"
rc=$?
kts_diag "tarball rebuild (--force, warm ccache): exit $rc in $(($(date +%s) - start)) s"
[ $rc = 0 ] || kts_diag "$(tail -n 50 "$work/f.err")"
kts_check "the forced rebuild stores the same key" \
	eval "[ $rc = 0 ] && [ \"\$(tail -n 1 '$work/f.out')\" = '$img' ]"
kts_check "the forced rebuild's image and stripped vmlinux are byte-identical to the first" \
	eval "sums '$entry' | cmp -s - '$work/sums.1'"
[ "$(sums "$entry")" = "$(cat "$work/sums.1")" ] || kts_diag "$(cat "$work/sums.1"; sums "$entry")"
kts_check "the forced rebuild took its compiles from ccache (>= 90% hits)" eval "
	read -r h m u <<<\"\$(ccache_counts '$entry')\" && [ \$((h * 10)) -ge \$((9 * (h + m))) ]"
kts_diag "forced rebuild ccache (hits misses uncacheable): $(ccache_counts "$entry" 2>&1)"

# ---- the same source as a git tree (the local-tree path) ----------------------------------
tree=$work/linux
mkdir "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
sed -i '/^\/\*$/d; /^!\/debian\/$/d' "$tree/.gitignore"
git -C "$tree" init -q
git -C "$tree" add -A
git -C "$tree" -c user.name=e2e -c user.email=e2e@ktscope commit -qm "linux-source-6.12"
kts_check "the git tree is clean before the build" test -z "$(git -C "$tree" status --porcelain)"
# the tarball entry's manifest against the same source's ext.c
scx_source_checks "$entry" "$tree"
start=$(date +%s)
"$KTSCOPE" --user build --source "$tree" --base tinyconfig --cpu-cap "$ncpu" --ccache \
	>"$work/g.out" 2>"$work/g.err"
rc=$?
kts_diag "git tree build: exit $rc in $(($(date +%s) - start)) s"
kts_check "the git tree builds (exit 0) under a local-{commit12} key" \
	eval "[ $rc = 0 ] && grep -q '/local-$(git -C "$tree" rev-parse HEAD | cut -c1-12)-' '$work/g.out'"
[ $rc = 0 ] || kts_diag "$(tail -n 50 "$work/g.err")"
gentry=$(dirname "$(tail -n 1 "$work/g.out")")
kts_check "the git tree (same bytes, another path) took >= 90% of its compiles from ccache" eval "
	read -r h m u <<<\"\$(ccache_counts '$gentry')\" && [ \$((h * 10)) -ge \$((9 * (h + m))) ]"
kts_diag "git tree ccache (hits misses uncacheable): $(ccache_counts "$gentry" 2>&1)"
kts_check "the result line gives the ccache hits" grep -qE '^ktscope: built and cached .*ccache [0-9]+/[0-9]+ hits' "$work/g.err"
kts_check "the tree is still clean after the build (build outputs are ignored)" \
	test -z "$(git -C "$tree" status --porcelain)"
"$KTSCOPE" --user build --source "$tree" --base tinyconfig --cpu-cap "$ncpu" \
	>"$work/g2.out" 2>"$work/g2.err"
gkey=$(basename "$(dirname "$(tail -n 1 "$work/g.out")")")
kts_check "the second build of the git tree is a cache hit on its entry ($gkey)" \
	grep -q "^ktscope: cached: $gkey (built " "$work/g2.err"

# Left for the benchmark (bench/cache-hit) when asked to.
if [ -n "${KTS_E2E_KEEP:-}" ]; then
	mkdir -p "$KTS_E2E_KEEP"
	mv "$tree" "$KTS_E2E_KEEP/linux" && mv "$KTSCOPE_CACHE_DIR" "$KTS_E2E_KEEP/cache"
fi
exit $((kts_nfail > 0))
