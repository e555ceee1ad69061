#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libraries ktscope loads on demand (src/dlopen-util.h): the binary links only
# libsystemd, json-c and libc (DT_NEEDED), so `run` maps none of libgit2, libblkid,
# libelf, libbpf, libcrypto; a command that needs one that is missing (a file that is no
# library) or mismatched (a library of that soname without the functions used) fails with
# one line naming the soname and the packages to install, and exit 4; `run` does not care;
# doctor names each library that does not load. The stand-ins come first in
# LD_LIBRARY_PATH, under the sonames configure found (config.h). No manager needed: the
# builds stop before reserving anything, `run` uses KTSCOPE_SCOPE=none.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
KTSCOPE=${KTSCOPE:-$(kts_find_ktscope)}

config=${KTS_TOP_BUILDDIR:-.}/config.h
soname() { sed -n "s/^#define KTS_SONAME_$1 \"\(.*\)\"\$/\1/p" "$config"; }
GIT2=$(soname GIT2) BLKID=$(soname BLKID) ELF=$(soname ELF) BPF=$(soname BPF)
CRYPTO=$(soname CRYPTO)
[ -n "$GIT2" ] && [ -n "$BLKID" ] && [ -n "$CRYPTO" ] ||
	{ echo "Bail out! no KTS_SONAME_* in '$config'"; exit 99; }
command -v objdump >/dev/null || kts_skip_all "objdump not found (binutils)"
CC=${CC:-cc}
command -v "$CC" >/dev/null || kts_skip_all "no C compiler '$CC'"

work=$(mktemp -d /tmp/ktscope-libs.XXXXXX) || exit 99
trap 'rm -rf "$work"' EXIT
export KTSCOPE_LOCK_DIR=$work/locks KTSCOPE_CACHE_DIR=$work/cache
mkdir -p "$KTSCOPE_LOCK_DIR" "$work/empty" "$work/bad" "$work/git2" "$work/crypto"

# Stand-ins: an empty library under every soname (loads, lacks every function), and for
# libgit2 also a file that is no ELF at all (cannot be loaded).
echo 'int kts_libs_nothing;' >"$work/e.c"
for s in "$GIT2" "$BLKID" "$ELF" "$BPF" "$CRYPTO"; do
	"$CC" -shared -fPIC -o "$work/empty/$s" -Wl,-soname,"$s" "$work/e.c" ||
		{ echo "Bail out! cannot build a stand-in '$s' with '$CC'"; exit 99; }
done
echo 'not a library' >"$work/bad/$GIT2"
cp "$work/empty/$GIT2" "$work/git2/" && cp "$work/empty/$CRYPTO" "$work/crypto/" || exit 99
T=$(kts_fake_tree "$work/tree") || { echo "Bail out! cannot make a git tree"; exit 99; }

kts_plan 14

# 1. What the binary links: exactly these (sanitizer runtimes of a sanitizer build aside).
needed=$(objdump -p "$KTSCOPE" | awk '$1 == "NEEDED" { print $2 }' |
	grep -vE '^lib(a|ub|l|t)san\.so' | sort | tr '\n' ' ')
kts_check "DT_NEEDED is libc, libjson-c, libsystemd only (not even libm)" \
	test "$needed" = "libc.so.6 libjson-c.so.5 libsystemd.so.0 "
[ "$needed" = "libc.so.6 libjson-c.so.5 libsystemd.so.0 " ] || kts_diag "NEEDED: $needed"

# 2. `run` loads none of them: it works with every stand-in first in the path.
kts_expect 0 '' "run works with no usable libgit2/libblkid/libelf/libbpf/libcrypto" \
	env LD_LIBRARY_PATH="$work/empty" KTSCOPE_SCOPE=none "$KTSCOPE" -q --user run -- true

# 3. A libgit2 without its functions: one line naming it and the packages, exit 4.
#    (KTSCOPE_GIT=libgit2: the git program would identify the tree without libgit2.)
export KTSCOPE_GIT=libgit2
kts_expect 4 "^ktscope: error: cannot use $GIT2 to read git trees: it has no git_[a-z_0-9]+ \(install libgit2: Debian libgit2-[0-9.]+, Fedora libgit2, Arch libgit2\)\$" \
	"build --source with a libgit2 that lacks its functions: one line, exit 4" \
	env LD_LIBRARY_PATH="$work/git2" KTSCOPE_SCOPE=none "$KTSCOPE" -q --user build --source "$T"
kts_check "... and only that line" test "$(wc -l <<<"$err")" = 1

# 4. A libgit2 that cannot be loaded at all: the loader's reason, one line, exit 4.
kts_expect 4 "^ktscope: error: cannot load $GIT2 to read git trees: .*$GIT2: .*\(install libgit2: " \
	"build --source with a libgit2 that is no library: one line, exit 4" \
	env LD_LIBRARY_PATH="$work/bad" KTSCOPE_SCOPE=none "$KTSCOPE" -q --user build --source "$T"
kts_check "... and only that line" test "$(wc -l <<<"$err")" = 1
unset KTSCOPE_GIT

# 5. libcrypto (cache keys, the fragment's hash): refused at the start of the command that
#    needs it, one line, exit 4; before, the fragment's hash abort()ed.
kts_expect 4 "^ktscope: error: cannot use $CRYPTO to compute SHA-256: it has no [A-Za-z_0-9]+ \(install libcrypto: " \
	"kernel list with a libcrypto that lacks its functions: one line, exit 4" \
	env LD_LIBRARY_PATH="$work/crypto" "$KTSCOPE" kernel list
kts_check "... and only that line" test "$(wc -l <<<"$err")" = 1

# 6. A git tree the git program identifies builds without libgit2 (the fake kernel builds in
#    seconds), the commit's date included: git gives the stamps' date too.
kts_expect 0 "" "build --source of a git tree through the git program needs no libgit2" \
	env LD_LIBRARY_PATH="$work/git2" KTSCOPE_SCOPE=none "$KTSCOPE" -q --user build --source "$T"
ct=$(git -C "$T" log -1 --format=%ct)
kts_find_python
kts_check "... says nothing on stderr, and its stamps are the commit's date ($ct)" \
	eval '[ -z "$err" ] && "$KTS_PYTHON" -c "
import glob, json, sys
(m,) = [json.load(open(f)) for f in glob.glob(sys.argv[1] + \"/kernels/*/metadata.json\")]
assert (m[\"stamps\"][\"epoch\"], m[\"stamps\"][\"from\"]) == (int(sys.argv[2]), \"git-commit\"), m[\"stamps\"]
" "$KTSCOPE_CACHE_DIR" "$ct"'

# 6b. Its cache hit maps neither libgit2 (it was initialised on entry to the source code
#    before, though the git program answered) nor libblkid (the tree's filesystem is
#    probed when an entry is stored). The dynamic loader names every file each process
#    maps, into files (on stderr, git's own lines would send ktscope to libgit2); that it
#    names libcrypto, which every build loads, shows the method sees dlopen().
kts_capture env LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld" KTSCOPE_SCOPE=none \
	"$KTSCOPE" --user build --source "$T"
mapped=$(cat "$work"/ld.* 2>/dev/null | grep -o 'file=[^ ]*' | sort -u | tr '\n' ' ')
kts_check "the cache hit of that tree (exit 0, 'cached') maps $CRYPTO but neither $GIT2 nor $BLKID" \
	eval 'test "$rc" = 0 && grep -q "^ktscope: cached: " <<<"$err" &&
		[[ " $mapped" == *" file=$CRYPTO "* && " $mapped" != *" file=$GIT2 "* &&
		   " $mapped" != *" file=$BLKID "* ]]'
[[ " $mapped" == *" file=$GIT2 "* || " $mapped" == *" file=$BLKID "* ]] && kts_diag "mapped: $mapped"

# 7. doctor names each library that does not load: fail for what builds need, warn for
#    libblkid (filesystem UUIDs are best effort); exit 4 as for any failed check.
kts_capture env LD_LIBRARY_PATH="$work/empty" "$KTSCOPE" --user doctor --json
printf '%s\n' "$out" >"$work/doctor.json"
kts_check "doctor with the stand-ins exits 4" test "$rc" = 4
kts_check "doctor: libgit2, libcrypto, libelf, libbpf fail and libblkid warns, by soname" \
	python3 - "$work/doctor.json" "$GIT2" "$CRYPTO" "$ELF" "$BPF" "$BLKID" <<'EOF'
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["checks"]}
need, blkid = sys.argv[2:6], sys.argv[6]
ok = all(c[s]["status"] == "fail" and "it has no " in c[s]["detail"] for s in need)
sys.exit(0 if ok and c[blkid]["status"] == "warn" else 1)
EOF
kts_capture "$KTSCOPE" --user doctor --json
printf '%s\n' "$out" >"$work/doctor-ok.json"
kts_check "doctor without them: one ok 'libraries' line naming every soname" \
	python3 - "$work/doctor-ok.json" "$GIT2" "$CRYPTO" "$ELF" "$BPF" "$BLKID" <<'EOF'
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["checks"]}
l = c.get("libraries", {})
sys.exit(0 if l.get("status") == "ok" and all(s in l["detail"] for s in sys.argv[2:])
	 and not any(s in c for s in sys.argv[2:]) else 1)
EOF

exit $((kts_nfail > 0))
