#!/bin/bash
# Installs libmorselkind into PREFIX: lib/libmorselkind.so (soname libmorselkind.so.0, with the
# libmorselkind.so.0 link programs load it by), lib/libmorselkind.a, the headers of include/ in
# include/, and lib/pkgconfig/morselkind.pc made from ffi/morselkind.pc.in.
#
#   scripts/install.sh PREFIX          (builds with cargo build --release first)
#   NO_BUILD=1 scripts/install.sh PREFIX
#
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc app.c $(pkg-config --cflags --libs morselkind)
#  or   cc -static app.c $(pkg-config --static --cflags --libs morselkind)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -ne 1 ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"
LIBDIR="$PREFIX/lib"
INCLUDEDIR="$PREFIX/include"
REL="$ROOT/target/release"

if [[ -z "${NO_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release -p morselkind-ffi)
fi
for f in libmorselkind.so libmorselkind.a; do
    [[ -f "$REL/$f" ]] || { echo "install: $REL/$f is missing (cargo build --release)" >&2; exit 1; }
done
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)"
[[ -n "$VERSION" ]] || { echo "install: no version in Cargo.toml" >&2; exit 1; }

install -d "$LIBDIR/pkgconfig" "$INCLUDEDIR"
install -m 0755 "$REL/libmorselkind.so" "$LIBDIR/libmorselkind.so"
ln -sfn libmorselkind.so "$LIBDIR/libmorselkind.so.0"
install -m 0644 "$REL/libmorselkind.a" "$LIBDIR/libmorselkind.a"
for h in "$ROOT"/include/*.h; do
    install -m 0644 "$h" "$INCLUDEDIR/"
done
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" "$ROOT/ffi/morselkind.pc.in" \
    >"$LIBDIR/pkgconfig/morselkind.pc"
echo "installed libmorselkind $VERSION into $PREFIX"
