#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# README and ktscope-build(1) claims about where a build comes from and how the cache is
# bypassed, each on the real CLI against the confined systemd user manager (one per run of
# this script) and the fake kernel tree: releases from a fake kernel.org mirror on 127.0.0.1
# (KTSCOPE_KERNEL_MIRROR: download, checksum, build, store, then a cache hit that downloads
# no tarball), the default source (the current directory when it is a kernel tree, else
# stable), --git URL --ref REF (tag, branch, commit of a file:// repository made here),
# --force, --clean and KTSCOPE_BYPASS_LOCKS. Private cache and lock directories.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
for c in git tar xz flock sha256sum; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found"
done
kts_reexec_inside_manager "$here/build-options.sh" "$@"

work=$(mktemp -d /tmp/ktscope-build-options.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_CA_CERT \
	FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE
# The mirror and the lock holders: each in its own process group (kts_bg), killed whole.
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT

B() { "$KTSCOPE" --user build "$@"; }
GIT() { git -c user.name=t -c user.email=t@t -c init.defaultBranch=master "$@"; }
# new_tree NAME: a git work tree of the fake kernel, committed, clean.
new_tree() { kts_fake_tree "$work/$1"; }
cc_runs() { [ -f "$1/fakecc.log" ] && wc -l <"$1/fakecc.log" || echo 0; }
# key_of FILE: the cache key of the image path on FILE's last line.
key_of() { basename "$(dirname "$(tail -n 1 "$1")")"; }
# meta KEY PYEXPR: PYEXPR's value (m = the entry's metadata.json).
meta() {
	"$KTS_PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$KTSCOPE_CACHE_DIR/kernels/$1/metadata.json" "$2"
}
entries_like() { ls "$KTSCOPE_CACHE_DIR/kernels" 2>/dev/null | grep -c "$1"; }
# expect_ok DESC FILE-STEM CMD...: runs CMD (stdout FILE-STEM.out, stderr .err), one TAP line
# for exit 0 and an image path on the last line of stdout.
expect_ok() {
	local desc=$1 stem=$2
	shift 2
	"$@" >"$stem.out" 2>"$stem.err"
	rc=$?
	if [ $rc = 0 ] && [ -f "$(tail -n 1 "$stem.out")" ]; then
		kts_ok "$desc"
	else
		kts_not_ok "$desc (exit $rc)"
		kts_diag "$(tail -n 15 "$stem.err")"
	fi
}

kts_plan 35

# ---- 1. a release from the mirror: ktscope build 6.12 -----------------------------------------
kts_fake_release_mirror "$work/www" 6.13.2 6.12.3 6.12.1 || kts_skip_all "cannot make the mirror"
# 6.12.1 listed with a wrong checksum: the download must be refused.
sed -i 's/^[0-9a-f]\{64\}\(  linux-6\.12\.1\.tar\.xz\)$/'"$(printf '0%.0s' {1..64})"'\1/' \
	"$work/www/v6.x/sha256sums.asc"
kts_start_mirror PORT "$work/www"
export KTSCOPE_KERNEL_MIRROR=http://127.0.0.1:$PORT/
sha_6_12_3=$(sha256sum "$work/www/v6.x/linux-6.12.3.tar.xz" | cut -d' ' -f1)

expect_ok "build 6.12 from KTSCOPE_KERNEL_MIRROR: exit 0, an image path" "$work/r1" B 6.12
rkey=$(key_of "$work/r1.out")
kts_check "6.12 resolved to the newest 6.12.y the mirror lists (6.12.3), stored under its key" \
	grep -qE "^6\.12\.3-$(uname -m)-[0-9a-f]{12}\$" <<<"$rkey"
kts_check "the entry records a release 6.12.3 and the tarball's checksum from sha256sums.asc" \
	test "$(meta "$rkey" '(m["source"]["kind"], m["source"]["version"], m["source"]["tarball_sha256"])')" \
	= "('release', '6.12.3', '$sha_6_12_3')"
kts_check "the entry's build.log is make's output of that tree (vmlinux linked)" \
	grep -q 'LD      vmlinux' "$KTSCOPE_CACHE_DIR/kernels/$rkey/build.log"
kts_check "the release's work tree is removed after the build" \
	test -z "$(ls -A "$KTSCOPE_CACHE_DIR/.tmp" 2>/dev/null)"
# Without the tarball on the mirror, only a cache hit can still succeed.
mv "$work/www/v6.x/linux-6.12.3.tar.xz" "$work/linux-6.12.3.tar.xz"
B 6.12 >"$work/r2.out" 2>"$work/r2.err"
rc=$?
kts_check "a second 'build 6.12' is a cache hit: exit 0, 'cached: KEY', the same image path" \
	eval "[ $rc = 0 ] && grep -q 'cached: $rkey' '$work/r2.err' &&
	      [ \"\$(tail -n 1 '$work/r2.out')\" = \"\$(tail -n 1 '$work/r1.out')\" ]"
[ $rc = 0 ] || kts_diag "$(tail -n 5 "$work/r2.err")"
kts_expect 0 "cached: $rkey" "'build 6.12.3' names the same release: the same cache hit" B 6.12.3
mv "$work/linux-6.12.3.tar.xz" "$work/www/v6.x/linux-6.12.3.tar.xz"
n=$(entries_like '^6\.12\.1-')
kts_expect 1 "6\.12\.1" "a tarball whose checksum differs from sha256sums.asc: exit 1, named" \
	B 6.12.1
kts_check "… and nothing is stored for it" test "$(entries_like '^6\.12\.1-')" = "$n"
B --no-cache 6.12.3 --clean >/dev/null 2>"$work/r3.err"
kts_check "--clean on a release: applies to local trees only, said as a notice" \
	eval "[ $? = 0 ] && grep -q -- '--clean applies to local trees only' '$work/r3.err'"

# ---- 2. the default source: the current directory if a kernel tree, else stable ---------------
T=$(new_tree t-cwd)
(cd "$T" && B) >"$work/d1.out" 2>"$work/d1.err"
rc=$?
kts_check "'ktscope build' in a kernel tree builds that tree (local-{its commit})" \
	eval "[ $rc = 0 ] && grep -q '^local-$(git -C "$T" rev-parse HEAD | cut -c1-12)-' <<<'$(key_of "$work/d1.out")'"
mkdir "$work/not-a-tree"
(cd "$work/not-a-tree" && B) >"$work/d2.out" 2>"$work/d2.err"
rc=$?
skey=$(key_of "$work/d2.out")
kts_check "'ktscope build' elsewhere builds stable from the mirror (6.13.2)" \
	eval "[ $rc = 0 ] && grep -qE '^6\.13\.2-' <<<'$skey'"
[ $rc = 0 ] || kts_diag "$(tail -n 5 "$work/d2.err")"
(cd "$work/not-a-tree" && B) >/dev/null 2>"$work/d3.err"
kts_check "… and a second run there is a cache hit on that entry" \
	eval "[ $? = 0 ] && grep -q 'cached: $skey' '$work/d3.err'"

# ---- 3. --git URL --ref REF ---------------------------------------------------------------------
R=$(new_tree repo)
GIT -C "$R" tag v1
c1=$(git -C "$R" rev-parse HEAD)
GIT -C "$R" checkout -qb feature
sed -i 's/^FAKE_KERNEL_OBJECTS ?= 8$/FAKE_KERNEL_OBJECTS ?= 3/' "$R/Makefile"
GIT -C "$R" commit -qam 'feature: 3 objects'
c2=$(git -C "$R" rev-parse HEAD)
GIT -C "$R" checkout -q master
expect_ok "--git file://REPO --ref v1 (a tag): exit 0" "$work/g1" B --git "file://$R" --ref v1
gkey=$(key_of "$work/g1.out")
kts_check "… the entry records the tag's commit" \
	test "$(meta "$gkey" 'm["source"]["kind"] + " " + m["source"]["commit"]')" = "git $c1"
expect_ok "--git file://REPO --ref feature (a branch): exit 0" "$work/g2" \
	B --git "file://$R" --ref feature
gkey2=$(key_of "$work/g2.out")
kts_check "… the entry records the branch's commit, under another key" \
	eval "[ '$(meta "$gkey2" 'm["source"]["commit"]')' = $c2 ] && [ '$gkey2' != '$gkey' ]"
objs() { grep -c '^  CC      fake/' "$KTSCOPE_CACHE_DIR/kernels/$1/build.log"; }
kts_check "… built from each ref's tree (the branch's Makefile builds 3 objects, the tag's 8)" \
	test "$(objs "$gkey2") $(objs "$gkey")" = "3 8"
B --git "file://$R" --ref "$c1" >"$work/g3.out" 2>"$work/g3.err"
kts_check "--ref COMMIT of the tag's commit: a cache hit on the tag's entry (keyed by commit)" \
	eval "[ $? = 0 ] && grep -q 'cached: $gkey' '$work/g3.err'"
B "git+file://$R#feature" >/dev/null 2>"$work/g4.err"
kts_check "SPEC git+URL#REF is --git URL --ref REF: a cache hit on the branch's entry" \
	eval "[ $? = 0 ] && grep -q 'cached: $gkey2' '$work/g4.err'"
kts_expect 1 "no-such-ref" "--ref naming nothing in the repository: exit 1, naming it" \
	B --git "file://$R" --ref no-such-ref
kts_expect 2 "--ref" "--git without --ref: usage error (exit 2)" B --git "file://$R"

# ---- 4. --force and --clean -------------------------------------------------------------------
TF=$(new_tree t-force)
expect_ok "a local tree builds" "$work/f1" B --source "$TF"
fkey=$(key_of "$work/f1.out")
fdir=$KTSCOPE_CACHE_DIR/kernels/$fkey
ino=$(stat -c %i "$fdir")
at=$(meta "$fkey" 'm["built_at"]')
n=$(cc_runs "$TF")
sleep 1.1 # built_at has a resolution of one second
B --source "$TF" --force >"$work/f2.out" 2>"$work/f2.err"
rc=$?
kts_check "--force on a cached key builds anyway: exit 0, no 'cached:' line, the same key" \
	eval "[ $rc = 0 ] && ! grep -q 'cached:' '$work/f2.err' && [ '$(key_of "$work/f2.out")' = '$fkey' ]"
kts_check "… and the new entry replaced the old one (a new directory, a later built_at)" \
	eval "[ \$(stat -c %i '$fdir') != $ino ] && [ \"\$(meta '$fkey' 'm[\"built_at\"]')\" '>' '$at' ] &&
	      [ $(entries_like "^$fkey\$") = 1 ] && [ -z \"\$(ls -A '$KTSCOPE_CACHE_DIR/.tmp' | grep -v '^src\\.')\" ]"
kts_diag "compiler runs: $n before, $(cc_runs "$TF") after --force"
kts_check "… without --clean, make found the objects up to date (only the link ran)" \
	eval "[ $(cc_runs "$TF") = $((n + 1)) ] && ! grep -q mrproper '$fdir/build.log'"
B --source "$TF" --force --clean >"$work/f3.out" 2>"$work/f3.err"
rc=$?
kts_check "--force --clean: exit 0, build.log shows make mrproper before the configuration" \
	eval "[ $rc = 0 ] && grep -n -e 'CLEAN   (mrproper)' -e 'GEN     .config' '$fdir/build.log' |
	      head -n 1 | grep -q mrproper"
kts_check "… and every object was compiled again (8 objects and the link)" \
	test "$(cc_runs "$TF")" = $((n + 10))
B --source "$TF" --clean >"$work/f4.out" 2>"$work/f4.err"
kts_check "--clean without --force on a cached key: still a cache hit" \
	eval "[ $? = 0 ] && grep -q 'cached: $fkey' '$work/f4.err' && [ $(cc_runs "$TF") = $((n + 10)) ]"

# ---- 5. KTSCOPE_BYPASS_LOCKS --------------------------------------------------------------------
# Every LLC lock and this tree's source and build locks held exclusively by others.
hold() {
	local f
	for f in "$@"; do
		kts_bg flock -x "$f" sleep 300
	done
}
held() { ! flock -n -s "$1" true; }
hold "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock "$KTSCOPE_CACHE_DIR"/.locks/source-*.lock \
	"$KTSCOPE_CACHE_DIR/.locks/$fkey.build.lock"
for f in "$KTSCOPE_LOCK_DIR"/ktstr-llc-*.lock "$KTSCOPE_CACHE_DIR/.locks/$fkey.build.lock"; do
	kts_wait_until 5 held "$f"
done
n=$(cc_runs "$TF")
KTSCOPE_BYPASS_LOCKS=1 timeout 60 "$KTSCOPE" --user build --source "$TF" --force --clean \
	>"$work/x1.out" 2>"$work/x1.err"
rc=$?
kts_check "KTSCOPE_BYPASS_LOCKS=1 builds while others hold the LLC, source and key locks" \
	eval "[ $rc = 0 ] && [ $(cc_runs "$TF") -gt $n ] && ! grep -q 'waiting' '$work/x1.err'"
[ $rc = 0 ] || kts_diag "$(tail -n 5 "$work/x1.err")"
kts_check "… and warns that it runs without the LLC locks" \
	grep -q 'warning.*KTSCOPE_BYPASS_LOCKS is set: running without LLC locks' "$work/x1.err"
KTSCOPE_BYPASS_LOCKS=1 timeout 30 "$KTSCOPE" --user run -- true >/dev/null 2>"$work/x2.err"
kts_check "KTSCOPE_BYPASS_LOCKS=1 ktscope run: runs (exit 0) despite the held LLCs, and warns" \
	eval "[ $? = 0 ] && grep -q 'KTSCOPE_BYPASS_LOCKS is set' '$work/x2.err'"
# The control: the same build without the variable waits for the holders.
kts_bg "$KTSCOPE" --user build --source "$TF" --force >/dev/null 2>"$work/x3.err"
waiting() { grep -q "source tree '$TF' is being built by pid" "$work/x3.err"; }
kts_wait_until 60 waiting
sleep 0.5
kts_check "without it the same build waits for the holder of the source tree (still waiting)" \
	eval "waiting && kill -0 $kts_bg_pid 2>/dev/null"
kill -TERM "$kts_bg_pid"
KTSCOPE_BYPASS_LOCKS=1 kts_expect 2 "KTSCOPE_BYPASS_LOCKS conflicts with a CPU budget" \
	"KTSCOPE_BYPASS_LOCKS with --cpu-cap: exit 2, the conflict named" \
	B --source "$TF" --force --cpu-cap 1
KTSCOPE_BYPASS_LOCKS= kts_expect 3 "reservation not available" \
	"an empty KTSCOPE_BYPASS_LOCKS counts as unset: the held LLCs refuse --no-wait (exit 3)" \
	timeout 10 "$KTSCOPE" --user run --no-wait -- true

kts_done 2>/dev/null || exit $((kts_nfail > 0))
