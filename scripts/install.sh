#!/bin/bash
# Installs morselkind into PREFIX (default /usr/local):
#
#   PREFIX/lib/libmorselkind.so.0          the library (soname libmorselkind.so.0)
#   PREFIX/lib/libmorselkind.so            link to it, for -lmorselkind
#   PREFIX/lib/libmorselkind.a             the static library
#   PREFIX/lib/libmorseltier.so            the LD_PRELOAD tiering library
#   PREFIX/lib/libmorselcache.so.0         libvmemcache's cache (soname libmorselcache.so.0),
#   PREFIX/lib/libmorselcache.so           and its link, for -lmorselcache
#   PREFIX/lib/pkgconfig/morselkind.pc     Cflags: -IPREFIX/include/morselkind
#   PREFIX/include/morselkind/*.h          memkind.h, hbwmalloc.h, morselkind.h, the C++ allocators:
#                                          in their own directory, so memkind's own memkind.h in
#                                          PREFIX/include is never replaced
#   PREFIX/bin/morselkind                  the command
#   PREFIX/share/man/man1/morselkind*.1    its man pages, made from its clap definitions
#
#   scripts/install.sh [PREFIX]            builds with cargo build --release first
#   NO_BUILD=1 scripts/install.sh [PREFIX] uses target/release as it is
#
# DESTDIR=DIR stages the files under DIR (for packaging); LIBDIR=lib/x86_64-linux-gnu puts the
# libraries in another directory under PREFIX. As root, without DESTDIR, ldconfig runs at the
# end, so with the default prefix programs find the library and pkg-config finds morselkind.pc
# without LD_LIBRARY_PATH or PKG_CONFIG_PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -gt 1 || "${1:-}" == -* ]]; then
    echo "usage: $0 [PREFIX]   (default /usr/local)" >&2
    exit 2
fi
PREFIX="${1:-/usr/local}"
DESTDIR="${DESTDIR:-}"
if [[ -z "$DESTDIR" ]]; then
    mkdir -p "$PREFIX"
    PREFIX="$(cd "$PREFIX" && pwd)"
elif [[ "$PREFIX" != /* ]]; then
    echo "install: with DESTDIR, PREFIX must be absolute (it is where the files will be)" >&2
    exit 2
fi
LIBREL="${LIBDIR:-lib}"
LIBDIR="$PREFIX/$LIBREL"
INCLUDEDIR="$PREFIX/include/morselkind"
BINDIR="$PREFIX/bin"
MANDIR="$PREFIX/share/man/man1"
REL="$ROOT/target/release"

if [[ -z "${NO_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release -p morselkind-ffi -p morselkind-tier -p morselkind-cli -p vcache-ffi)
fi
for f in libmorselkind.so libmorselkind.a libmorseltier.so libmorselcache.so morselkind; do
    [[ -f "$REL/$f" ]] || { echo "install: $REL/$f is missing (cargo build --release)" >&2; exit 1; }
done
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)"
[[ -n "$VERSION" ]] || { echo "install: no version in Cargo.toml" >&2; exit 1; }

D="$DESTDIR"
install -d "$D$LIBDIR/pkgconfig" "$D$INCLUDEDIR" "$D$BINDIR" "$D$MANDIR"
# An older install put the library in libmorselkind.so with the .so.0 link to it.
rm -f "$D$LIBDIR/libmorselkind.so" "$D$LIBDIR/libmorselkind.so.0"
install -m 0755 "$REL/libmorselkind.so" "$D$LIBDIR/libmorselkind.so.0"
ln -sfn libmorselkind.so.0 "$D$LIBDIR/libmorselkind.so"
install -m 0644 "$REL/libmorselkind.a" "$D$LIBDIR/libmorselkind.a"
install -m 0755 "$REL/libmorseltier.so" "$D$LIBDIR/libmorseltier.so"
rm -f "$D$LIBDIR/libmorselcache.so" "$D$LIBDIR/libmorselcache.so.0"
install -m 0755 "$REL/libmorselcache.so" "$D$LIBDIR/libmorselcache.so.0"
ln -sfn libmorselcache.so.0 "$D$LIBDIR/libmorselcache.so"
install -m 0755 "$REL/morselkind" "$D$BINDIR/morselkind"
for h in "$ROOT"/include/*.h; do
    install -m 0644 "$h" "$D$INCLUDEDIR/"
done
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|\${prefix}/$LIBREL|g" -e "s|@VERSION@|$VERSION|g" \
    "$ROOT/ffi/morselkind.pc.in" >"$D$LIBDIR/pkgconfig/morselkind.pc"
MANTMP="$(mktemp -d)"
trap 'rm -rf "$MANTMP"' EXIT
"$REL/morselkind" man "$MANTMP" >/dev/null
install -m 0644 "$MANTMP"/*.1 "$D$MANDIR/"

if [[ -z "$DESTDIR" && $EUID -eq 0 ]] && command -v ldconfig >/dev/null; then
    ldconfig
fi
echo "installed morselkind $VERSION into $D$PREFIX"
if [[ -z "$DESTDIR" ]]; then
    pcdirs="$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)"
    [[ ":$pcdirs:" == *":$LIBDIR/pkgconfig:"* ]] ||
        echo "  pkg-config does not look in $LIBDIR/pkgconfig: export PKG_CONFIG_PATH=$LIBDIR/pkgconfig"
    ldconfig -p 2>/dev/null | grep -q "=> $LIBDIR/libmorselkind.so.0\$" ||
        echo "  the loader does not look in $LIBDIR: link with -Wl,-rpath,$LIBDIR (or LD_LIBRARY_PATH=$LIBDIR)"
fi
