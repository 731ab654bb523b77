#!/bin/sh
# tools/deb.sh: build the Debian package of this tree (`make deb`).
#
# The tree as it is (tracked and new files, as git sees them; no build
# products) is copied to a temporary folder smtpproxy-VERSION, where
# debian/changelog is written with the version of version.h, and
# dpkg-buildpackage builds the source and the binary packages there.  What
# it writes next to the copy (.deb, -dbgsym .deb, .dsc, .tar.xz, .buildinfo,
# .changes) is moved to build/deb/.
#
#   DEB_VERSION=V   package version V instead of version.h's (the upgrade
#                   test builds an older one)
#   DEB_OUT=DIR     put the results in DIR instead of build/deb
#   DEB_BINARY_ONLY=1  the .deb only, no source package (dpkg-buildpackage -b)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
ver=${DEB_VERSION:-$(sed -n 's/^#define SMTPPROXY_VERSION "\(.*\)"$/\1/p' \
    "$root/version.h")}
[ -n "$ver" ] || { echo "tools/deb.sh: no version in version.h" >&2; exit 1; }
out=${DEB_OUT:-$root/build/deb}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

stage=$(mktemp -d "${TMPDIR:-/tmp}/smtpproxy-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
src=$stage/smtpproxy-$ver
mkdir "$src"
if command -v git >/dev/null && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$root" ls-files -z --cached --others --exclude-standard |
	    (cd "$root" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done; :' sh) |
	    tar -C "$root" -T - -cf - | tar -C "$src" -xf -
else
	tar -C "$root" --exclude=./build --exclude='*.o' -cf - . |
	    tar -C "$src" -xf -
	(cd "$src" && make clean >/dev/null)
fi

# debian/changelog: one entry, the version of version.h
maint=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
date=$(command -v git >/dev/null && git -C "$root" log -1 --format=%aD 2>/dev/null ||
    date -R)
cat >"$src/debian/changelog" <<CHANGELOG
smtpproxy ($ver) unstable; urgency=medium

  * smtpproxy $ver, packaged from the project's tree.

 -- $maint  $date
CHANGELOG

only=
[ -z "${DEB_BINARY_ONLY:-}" ] || only=-b
(cd "$src" && dpkg-buildpackage -us -uc $only -j"$(nproc)")

mkdir -p "$out"
for f in "$stage"/smtpproxy*_"$ver"*; do
	[ -f "$f" ] && mv -f "$f" "$out/"
done
echo "tools/deb.sh: $out/smtpproxy_${ver}_$arch.deb"
