#!/bin/bash
# Builds morselkind's Debian packages from the workspace with dpkg-deb (no other tool):
#
#   libmorselkind0     /usr/lib/<multiarch>/libmorselkind.so.0
#   libmorselkind-dev  /usr/include/morselkind/*.h, libmorselkind.so (link), libmorselkind.a,
#                      /usr/lib/<multiarch>/pkgconfig/morselkind.pc
#   morselkind         /usr/bin/morselkind, /usr/lib/<multiarch>/libmorseltier.so, man pages
#
# None of their files is one of memkind's (libmemkind0, libmemkind-dev, libmemkind-progs), so
# they install beside them; `pkg-config --cflags morselkind` gives -I/usr/include/morselkind.
#
#   scripts/deb.sh [OUTDIR]            (default target/debian; builds with cargo first)
#   NO_BUILD=1 scripts/deb.sh [OUTDIR]
#
# Prints the paths of the three .deb files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/target/debian}"
command -v dpkg-deb >/dev/null || { echo "deb: dpkg-deb is not installed" >&2; exit 1; }
ARCH="$(dpkg --print-architecture)"
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)"
DEBVERSION="$VERSION-1"
REL="$ROOT/target/release"

if [[ -z "${NO_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release -p morselkind-ffi -p morselkind-tier -p morselkind-cli)
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
NO_BUILD=1 DESTDIR="$STAGE/all" LIBDIR="lib/$MULTIARCH" bash "$ROOT/scripts/install.sh" /usr >/dev/null
A="$STAGE/all/usr"
L="lib/$MULTIARCH"

# pkg NAME: an empty package tree with its doc directory and copyright.
pkg() {
    local d="$STAGE/$1"
    install -d "$d/DEBIAN" "$d/usr/share/doc/$1"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: morselkind"
        echo
        echo "Files: *"
        echo "Copyright: The morselkind authors"
        echo "License: MIT or Apache-2.0"
        echo
        sed 's/^$/./; s/^/ /' "$ROOT/LICENSE-MIT"
    } >"$d/usr/share/doc/$1/copyright"
    echo "$d"
}

# control DIR NAME SECTION DEPENDS DESCRIPTION LONG...
control() {
    local d="$1" name="$2" section="$3" depends="$4" short="$5"
    shift 5
    local size
    size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
    {
        echo "Package: $name"
        echo "Version: $DEBVERSION"
        echo "Architecture: $ARCH"
        echo "Maintainer: The morselkind authors <morselkind@localhost>"
        echo "Installed-Size: $size"
        [[ -n "$depends" ]] && echo "Depends: $depends"
        echo "Section: $section"
        echo "Priority: optional"
        if [[ $name == lib* ]]; then echo "Multi-Arch: same"; fi
        echo "Description: $short"
        for line in "$@"; do echo " $line"; done
    } >"$d/DEBIAN/control"
}

# libmorselkind0
d=$(pkg libmorselkind0)
install -d "$d/usr/$L"
cp -a "$A/$L/libmorselkind.so.0" "$A/$L/libmorselcache.so.0" "$d/usr/$L/"
strip --strip-debug "$d/usr/$L/libmorselkind.so.0" "$d/usr/$L/libmorselcache.so.0"
echo "activate-noawait ldconfig" >"$d/DEBIAN/triggers"
control "$d" libmorselkind0 libs "libc6" \
    "heap allocator for heterogeneous memory (memkind 1.14 ABI)" \
    "morselkind speaks memkind 1.14's C API and ABI: DRAM, file-backed memory in" \
    "a (DAX) directory, memory-only NUMA nodes, high-bandwidth nodes and huge" \
    "pages are each a kind, allocated from with malloc-style calls." \
    "." \
    "This package holds the shared libraries (and libmorselcache, libvmemcache's" \
    "volatile key-value cache on morsels)."

# libmorselkind-dev
d=$(pkg libmorselkind-dev)
install -d "$d/usr/$L/pkgconfig" "$d/usr/include"
cp -a "$A/include/morselkind" "$d/usr/include/"
cp -a "$A/$L/libmorselkind.so" "$A/$L/libmorselcache.so" "$A/$L/libmorselkind.a" "$d/usr/$L/"
strip --strip-debug "$d/usr/$L/libmorselkind.a"
cp -a "$A/$L/pkgconfig/morselkind.pc" "$d/usr/$L/pkgconfig/"
control "$d" libmorselkind-dev libdevel "libmorselkind0 (= $DEBVERSION)" \
    "heap allocator for heterogeneous memory (development files)" \
    "Headers (memkind.h, hbwmalloc.h, memkind_memtier.h, morselkind.h and the C++" \
    "allocators) in /usr/include/morselkind, so they never replace memkind's own;" \
    "the static library and morselkind.pc: cc app.c \$(pkg-config --cflags --libs morselkind)."

# morselkind
d=$(pkg morselkind)
install -d "$d/usr/bin" "$d/usr/$L" "$d/usr/share/man/man1"
cp -a "$A/bin/morselkind" "$d/usr/bin/"
cp -a "$A/$L/libmorseltier.so" "$d/usr/$L/"
strip --strip-debug "$d/usr/bin/morselkind" "$d/usr/$L/libmorseltier.so"
for m in "$A"/share/man/man1/*.1; do
    gzip -9n <"$m" >"$d/usr/share/man/man1/$(basename "$m").gz"
done
control "$d" morselkind utils "libc6" \
    "heap allocator for heterogeneous memory (command and tiering library)" \
    "The morselkind command (info, demo, run) and libmorseltier.so, which runs an" \
    "unmodified program on tiered memory (LD_PRELOAD, memkind's MEMKIND_MEM_TIERS)."

for p in libmorselkind0 libmorselkind-dev morselkind; do
    dpkg-deb --root-owner-group -Zxz --build "$STAGE/$p" "$OUT/${p}_${DEBVERSION}_${ARCH}.deb" >/dev/null
    echo "$OUT/${p}_${DEBVERSION}_${ARCH}.deb"
done
