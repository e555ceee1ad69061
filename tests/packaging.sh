#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the Fedora package from the dist tarball and checks what it ships (TAP):
#
#   tests/packaging.sh [ktscope-VERSION.tar.xz]
#
# Default tarball: the newest ktscope-*.tar.xz in $KTS_TOP_BUILDDIR (or the current
# directory), as `make dist`/`make distcheck` leaves it. rpmbuild runs with
# --nodeps (Debian's rpm knows no Fedora packages) and --nocheck (`make check` runs
# on its own in CI) in a private _topdir. As root, a missing rpmbuild is installed
# with apt-get (Debian's `rpm` and `cpio` packages); otherwise the script skips, except
# under CI=true. The PKGBUILD is checked for syntax and its version.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/integration/lib.sh"
srcdir=${KTS_TOP_SRCDIR:-$(cd "$here/.." && pwd)}
builddir=${KTS_TOP_BUILDDIR:-$PWD}
spec=$srcdir/contrib/ktscope.spec

tarball=${1:-$(ls -t "$builddir"/ktscope-*.tar.xz 2>/dev/null | head -1)}
[ -n "$tarball" ] && [ -f "$tarball" ] ||
	kts_skip_all "no dist tarball (run 'make dist' first, or pass its path)"
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
version=$(basename "$tarball" .tar.xz)
version=${version#ktscope-}

if ! command -v rpmbuild >/dev/null || ! command -v cpio >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm cpio \
			>/dev/null 2>&1
	fi
	for c in rpmbuild rpm2cpio cpio; do
		command -v $c >/dev/null || kts_skip_all "$c not found (Debian: apt-get install rpm cpio)"
	done
fi

kts_plan 20
top=$(mktemp -d /tmp/ktscope-rpm.XXXXXX) || exit 99
trap 'rm -rf "$top"' EXIT
mkdir -p "$top"/{SOURCES,SPECS,BUILD,BUILDROOT,RPMS,SRPMS}
cp "$tarball" "$top/SOURCES/"

kts_check "spec Version matches the tarball ($version)" \
	grep -qx "Version: *$version" "$spec"
kts_check "PKGBUILD parses and its pkgver matches the tarball" \
	bash -c '. "$1" && [ "$pkgver" = "$2" ] && declare -F package >/dev/null' _ \
	"$srcdir/contrib/PKGBUILD" "$version"
# namcap checks depends against DT_NEEDED, which has none of the dlopen()ed libraries.
kts_check "PKGBUILD depends on the libraries ktscope loads with dlopen()" \
	bash -c '. "$1" && for l in curl libgit2 util-linux-libs libelf libbpf openssl; do
		printf "%s\n" "${depends[@]}" | grep -qx "$l" || exit 1; done' _ "$srcdir/contrib/PKGBUILD"

cp "$spec" "$top/SPECS/ktscope.spec"
rpmbuild -bb --nodeps --nocheck --define "_topdir $top" --define 'debug_package %{nil}' \
	"$top/SPECS/ktscope.spec" >"$top/rpmbuild.log" 2>&1
rc=$?
kts_check "rpmbuild -bb --nodeps builds the package from the dist tarball" [ $rc = 0 ]
[ $rc = 0 ] || kts_diag "$(tail -40 "$top/rpmbuild.log")"

rpm=$(ls "$top"/RPMS/*/ktscope-"$version"-*.rpm 2>/dev/null | grep -v debug | head -1)
files=
[ -n "$rpm" ] && files=$(rpm -qlp "$rpm" 2>/dev/null)
has() { grep -qx -- "$1" <<<"$files"; }

kts_check "the package ships /usr/bin/ktscope" has /usr/bin/ktscope
missing=
for p in ktscope ktscope-build ktscope-run ktscope-kernel ktscope-topology ktscope-locks \
	ktscope-kconfig ktscope-doctor; do
	grep -qE "^/usr/share/man/man1/$p\.1(\.gz|\.xz|\.bz2|\.zst)?$" <<<"$files" ||
		missing+=" $p.1"
done
kts_check "the package ships ktscope(1) and a page per command" [ -z "$missing" ]
[ -z "$missing" ] || kts_diag "missing:$missing"
for u in ktscope.slice ktscope-gc.service ktscope-gc.timer; do
	kts_check "the package ships the user unit $u" has "/usr/lib/systemd/user/$u"
done
kts_check "the package ships the cpuset drop-in as an example (not in /etc)" \
	eval 'has /usr/share/doc/ktscope/examples/ktscope-cpuset.conf && ! grep -q "^/etc/" <<<"$files"'
kts_check "the package ships the bash completion" has /usr/share/bash-completion/completions/ktscope
kts_check "the package ships the zsh completion" has /usr/share/zsh/site-functions/_ktscope
# These are dlopen()ed, so rpm's dependency generator cannot see them: the spec must say it.
requires=$(rpm -qp --requires "$rpm" 2>/dev/null)
for lib in libcurl libgit2 libblkid elfutils-libelf openssl-libs libbpf; do
	kts_check "the package requires $lib (loaded with dlopen(), invisible to rpm)" \
		grep -q "^$lib" <<<"$requires"
done

# The unit in the package runs the packaged binary.
mkdir "$top/x"
(cd "$top/x" && rpm2cpio "$rpm" 2>/dev/null | cpio -idm --quiet 2>/dev/null)
kts_check "the packaged ktscope-gc.service runs /usr/bin/ktscope" \
	grep -qx 'ExecStart=/usr/bin/ktscope kernel clean --older-than 30 --keep 5 --force' \
	"$top/x/usr/lib/systemd/user/ktscope-gc.service"
want_version=$(printf 'ktscope %s\ntest-hooks: no' "$version")
kts_check "the packaged binary runs and reports the version, without test hooks" \
	eval '[ "$("$top/x/usr/bin/ktscope" --version)" = "$want_version" ]'
[ -n "$files" ] || kts_diag "no package file list (rpm: '${rpm:-none}')"
[ $kts_nfail = 0 ]
