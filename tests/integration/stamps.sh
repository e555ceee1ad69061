#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Reproducible build stamps (ktscope-build(1), REPRODUCIBLE BUILDS) and the reproducer of
# `kernel show` (ktscope-kernel(1)), on the real CLI against the confined systemd user
# manager and the fake kernel tree, whose Makefile records the KBUILD_BUILD_* values make
# saw (build-stamps in the object tree) and compiles them into vmlinux's .rodata, so the
# cached image carries them: git trees get the commit date, tarballs the date tar restores
# on their Makefile, SOURCE_DATE_EPOCH wins (a bad one is exit 2), a make variable wins over
# all, --no-reproducible leaves them unset; the stamps are not in the cache key; two --force
# builds of one tarball (a new extraction path each time) give byte-identical image and
# vmlinux, which without the stamps they do not; and the reproducer `kernel show` prints,
# run in an empty cache, gives an entry with the same key and the same image bytes.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

kts_find_ktscope
kts_find_python
for c in git tar xz sha256sum strings objcopy; do
	command -v $c >/dev/null || kts_skip_all "'$c' not found"
done
kts_reexec_inside_manager "$here/stamps.sh" "$@"

work=$(mktemp -d /tmp/ktscope-stamps.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir "$work/locks"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_KERNEL_MIRROR \
	FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL FAKE_KERNEL_NO_IMAGE FAKE_KERNEL_RODATA \
	FAKE_KERNEL_IMAGE_PAD SOURCE_DATE_EPOCH KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER \
	KBUILD_BUILD_HOST KBUILD_BUILD_VERSION
cleanup() {
	kts_kill_bg
	rm -rf "$work"
}
trap cleanup EXIT

B() { "$KTSCOPE" --user build "$@"; }
# The reproducer says `ktscope build ...`: this one, on the test's manager.
ktscope() { "$KTSCOPE" --user "$@"; }
key_of() { basename "$(dirname "$(tail -n 1 "$1")")"; }
image_of() { tail -n 1 "$1"; }
meta() {
	"$KTS_PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$KTSCOPE_CACHE_DIR/kernels/$1/metadata.json" "$2"
}
# stamps_seen FILE: build-stamps as one line ("NAME=VALUE|NAME unset|..."), KCFLAGS aside.
stamps_seen() { head -n 5 "$1" | paste -sd'|'; }
# the date Kbuild's default format gives for epoch $1
cdate() { LC_ALL=C TZ=UTC date -d "@$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
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

kts_plan 40

# ---- 1. a git tree: the commit date -------------------------------------------------------
T=$(kts_fake_tree "$work/tree") || kts_skip_all "cannot make the fake tree"
ct=$(git -C "$T" log -1 --format=%ct)
export KBUILD_BUILD_USER=intruder # ktscope's environment: replaced, not passed on
expect_ok "a git tree builds" "$work/g1" B --source "$T"
unset KBUILD_BUILD_USER
gkey=$(key_of "$work/g1.out")
kts_check "make saw the commit date, user and host ktscope, version 1, SOURCE_DATE_EPOCH" \
	test "$(stamps_seen "$T/build-stamps")" = "KBUILD_BUILD_TIMESTAMP=$(cdate "$ct")|KBUILD_BUILD_USER=ktscope|KBUILD_BUILD_HOST=ktscope|KBUILD_BUILD_VERSION=1|SOURCE_DATE_EPOCH=$ct"
kts_check "a local tree keeps its paths: no KCFLAGS from ktscope" \
	grep -qx "KCFLAGS unset" "$T/build-stamps"
kts_check "the image carries them (.rodata, as the kernel's version string)" \
	eval "strings '$(image_of "$work/g1.out")' | grep -qxF '#1 $(cdate "$ct")'"
kts_check "metadata records stamps {timestamp, epoch, user, host, version, from: git-commit}" \
	test "$(meta "$gkey" 'sorted(m["stamps"].items())')" = "[('epoch', $ct), ('from', 'git-commit'), ('host', 'ktscope'), ('timestamp', '$(cdate "$ct")'), ('user', 'ktscope'), ('version', '1')]"

# ---- 2. SOURCE_DATE_EPOCH wins; a bad one is a usage error --------------------------------
expect_ok "SOURCE_DATE_EPOCH=86400 --force builds" "$work/g2" env SOURCE_DATE_EPOCH=86400 \
	"$KTSCOPE" --user build --source "$T" --force
kts_check "make saw SOURCE_DATE_EPOCH's date" \
	grep -qxF "KBUILD_BUILD_TIMESTAMP=Fri Jan  2 00:00:00 UTC 1970" "$T/build-stamps"
kts_check "the stamps are not part of the cache key (same key as the commit-date build)" \
	test "$(key_of "$work/g2.out")" = "$gkey"
kts_check "metadata says from SOURCE_DATE_EPOCH, epoch 86400" \
	test "$(meta "$gkey" '(m["stamps"]["from"], m["stamps"]["epoch"])')" = "('SOURCE_DATE_EPOCH', 86400)"
for bad in -1 1.5 soon 999999999999999; do
	kts_expect 2 "invalid SOURCE_DATE_EPOCH '$bad'" "SOURCE_DATE_EPOCH=$bad: exit 2 naming it" \
		env SOURCE_DATE_EPOCH=$bad "$KTSCOPE" --user build --source "$T" --force
done

# ---- 3. --no-reproducible: Kbuild's own ----------------------------------------------------
expect_ok "--no-reproducible --force builds" "$work/g3" B --source "$T" --force --no-reproducible
kts_check "make saw no KBUILD_BUILD_* (nor SOURCE_DATE_EPOCH)" \
	test "$(stamps_seen "$T/build-stamps")" = "KBUILD_BUILD_TIMESTAMP unset|KBUILD_BUILD_USER unset|KBUILD_BUILD_HOST unset|KBUILD_BUILD_VERSION unset|SOURCE_DATE_EPOCH unset"
kts_check "same key; metadata stamps: null" \
	test "$(key_of "$work/g3.out") $(meta "$gkey" 'm["stamps"]')" = "$gkey None"

# ---- 4. a make variable wins ---------------------------------------------------------------
expect_ok "-- KBUILD_BUILD_TIMESTAMP=... KBUILD_BUILD_USER=me builds" "$work/g4" B --source "$T" \
	-- "KBUILD_BUILD_TIMESTAMP=Sat Jan  1 00:00:00 UTC 2000" KBUILD_BUILD_USER=me
vkey=$(key_of "$work/g4.out")
kts_check "make saw the make variables' values and ktscope's host" \
	test "$(stamps_seen "$T/build-stamps")" = "KBUILD_BUILD_TIMESTAMP=Sat Jan  1 00:00:00 UTC 2000|KBUILD_BUILD_USER=me|KBUILD_BUILD_HOST=ktscope|KBUILD_BUILD_VERSION=1|SOURCE_DATE_EPOCH=946684800"
kts_check "metadata records the values that applied, from make-variable, date -d's epoch" \
	test "$(meta "$vkey" '(m["stamps"]["from"], m["stamps"]["timestamp"], m["stamps"]["epoch"], m["stamps"]["user"])')" = "('make-variable', 'Sat Jan  1 00:00:00 UTC 2000', 946684800, 'me')"

# ---- 5. a tarball: its Makefile's date; byte-identical rebuilds ------------------------------
tdir="$work/tar balls/it's"
mkdir -p "$tdir" "$work/src"
cp -r "$KTS_TOP_SRCDIR/tests/data/fake-kernel" "$work/src/linux-6.12" && chmod -R u+w "$work/src"
tar --mtime=@1234567890 -cJf "$tdir/linux-6.12.tar.xz" -C "$work/src" linux-6.12 ||
	kts_skip_all "cannot make the tarball"
printf 'CONFIG_FAKE_EXTRA=y\n' >"$work/src/my extra.config"
expect_ok "a tarball (path with a space and a quote) builds" "$work/t1" \
	bash -c 'cd "$1/src" && "$2" --user build --tarball "$3" --extra-kconfig "my extra.config"' \
	_ "$work" "$KTSCOPE" "$tdir/linux-6.12.tar.xz"
tkey=$(key_of "$work/t1.out")
timg1=$(sha "$(image_of "$work/t1.out")")
tvml1=$(sha "$KTSCOPE_CACHE_DIR/kernels/$tkey/vmlinux")
kts_check "the image carries the date tar restored on the tree's Makefile" \
	eval "strings '$(image_of "$work/t1.out")' | grep -qxF '#1 $(cdate 1234567890)'"
kts_check "metadata says from tarball, epoch 1234567890; the extra fragment's path is canonical" \
	test "$(meta "$tkey" '(m["stamps"]["from"], m["stamps"]["epoch"], m["extra_kconfig"][0]["path"])')" = "('tarball', 1234567890, '$work/src/my extra.config')"
expect_ok "the same tarball again, --force (a new extraction path)" "$work/t2" \
	B --tarball "$tdir/linux-6.12.tar.xz" --extra-kconfig "$work/src/my extra.config" --force
kts_check "same key; byte-identical image and stripped vmlinux (sha256; the tree's path mapped)" \
	test "$(key_of "$work/t2.out") $(sha "$(image_of "$work/t2.out")") $(sha "$KTSCOPE_CACHE_DIR/kernels/$tkey/vmlinux")" = "$tkey $timg1 $tvml1"
# A make variable KCFLAGS replaces the environment's, map included: then the path shows.
expect_ok "the tarball with -- KCFLAGS=-DFAKE (no map)" "$work/t5" \
	B --tarball "$tdir/linux-6.12.tar.xz" -- KCFLAGS=-DFAKE
t5img=$(sha "$(image_of "$work/t5.out")")
expect_ok "again, --force" "$work/t6" B --tarball "$tdir/linux-6.12.tar.xz" --force -- KCFLAGS=-DFAKE
kts_check "without the map two builds differ (the extraction path is in the debug info)" \
	test "$t5img" != "$(sha "$(image_of "$work/t6.out")")"
sleep 1 # Kbuild's own date has one-second steps
expect_ok "--no-reproducible --force of the same tarball" "$work/t3" \
	B --tarball "$tdir/linux-6.12.tar.xz" --extra-kconfig "$work/src/my extra.config" --force \
	--no-reproducible
kts_check "without the stamps the image differs (the check above can fail)" \
	test "$(sha "$(image_of "$work/t3.out")")" != "$timg1"
expect_ok "and with them again" "$work/t4" \
	B --tarball "$tdir/linux-6.12.tar.xz" --extra-kconfig "$work/src/my extra.config" --force

# ---- 6. the reproducer ----------------------------------------------------------------------
"$KTSCOPE" kernel show "$tkey" >"$work/show.out" 2>&1
repro=$(sed -n 's/^reproducer:   //p' "$work/show.out")
kts_check "kernel show prints the stamps" \
	grep -qF "stamps:       KBUILD_BUILD_TIMESTAMP '$(cdate 1234567890)' (tarball), USER 'ktscope', HOST 'ktscope', VERSION '1'" "$work/show.out"
kts_check "kernel show prints a reproducer with the tarball and fragment quoted" \
	test "$repro" = "ktscope build --tarball '$work/tar balls/it'\\''s/linux-6.12.tar.xz' --base defconfig --extra-kconfig '$work/src/my extra.config' --force"
kts_check "kernel show --json has it as a string" \
	test "$("$KTSCOPE" kernel show "$tkey" --json | "$KTS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["reproducer"])')" = "$repro"
(
	export KTSCOPE_CACHE_DIR=$work/cache2
	cd / && eval "$repro" >"$work/r1.out" 2>"$work/r1.err"
)
kts_check "the reproducer, run elsewhere in an empty cache: same key, identical image" \
	test "$(key_of "$work/r1.out") $(sha "$(image_of "$work/r1.out")")" = "$tkey $timg1"
[ -s "$work/r1.out" ] || kts_diag "$(tail -n 15 "$work/r1.err")"

# The git tree's reproducer names the commit; with SOURCE_DATE_EPOCH it sets it first.
expect_ok "SOURCE_DATE_EPOCH=86400 --force again" "$work/g5" env SOURCE_DATE_EPOCH=86400 \
	"$KTSCOPE" --user build --source "$T" --force
"$KTSCOPE" kernel show "$gkey" >"$work/show2.out" 2>&1
repro=$(sed -n 's/^reproducer:   //p' "$work/show2.out")
kts_check "a git tree's reproducer: SOURCE_DATE_EPOCH first, the tree, a note with its commit" \
	eval "[ \"\$repro\" = 'SOURCE_DATE_EPOCH=86400 ktscope build --source $T --base defconfig --force' ] && grep -qF 'commit $(git -C "$T" rev-parse HEAD)' '$work/show2.out'"
gimg=$(sha "$(image_of "$work/g5.out")")
(
	export KTSCOPE_CACHE_DIR=$work/cache3
	eval "$repro" >"$work/r2.out" 2>"$work/r2.err"
)
kts_check "it rebuilds the entry: same key, identical image" \
	test "$(key_of "$work/r2.out") $(sha "$(image_of "$work/r2.out")")" = "$gkey $gimg"

# A release from a mirror: the reproducer names the mirror.
kts_fake_release_mirror "$work/www" 6.12.3 || kts_skip_all "cannot make the mirror"
kts_start_mirror PORT "$work/www"
expect_ok "a release from KTSCOPE_KERNEL_MIRROR builds" "$work/m1" \
	env KTSCOPE_KERNEL_MIRROR=http://127.0.0.1:$PORT/ "$KTSCOPE" --user build 6.12.3
mkey=$(key_of "$work/m1.out")
repro=$("$KTSCOPE" kernel show "$mkey" --json | "$KTS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["reproducer"])')
kts_check "its reproducer sets KTSCOPE_KERNEL_MIRROR" \
	test "$repro" = "KTSCOPE_KERNEL_MIRROR=http://127.0.0.1:$PORT ktscope build 6.12.3 --base defconfig --force"
(
	export KTSCOPE_CACHE_DIR=$work/cache4
	eval "$repro" >"$work/r3.out" 2>"$work/r3.err"
)
kts_check "it rebuilds the entry: same key, identical image" \
	test "$(key_of "$work/r3.out") $(sha "$(image_of "$work/r3.out")")" = "$mkey $(sha "$(image_of "$work/m1.out")")"
