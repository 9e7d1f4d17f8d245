#!/bin/bash
# Install and pkg-config: scripts/install.sh installs into a temporary prefix (lib with
# libmorselkind.so, its .so.0 link and libmorselkind.a; include; lib/pkgconfig/morselkind.pc);
# a C program is built with `pkg-config --cflags --libs morselkind` (dynamic) and with
# `pkg-config --static --cflags --libs morselkind` and -static (static), and both run.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=install_pkgconfig
. "$ROOT/tests/lib.sh"
need_ours
command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config, or bash tests/deps.sh)"

PREFIX="$WORK/prefix"
NO_BUILD=1 bash "$ROOT/scripts/install.sh" "$PREFIX" || die "scripts/install.sh failed"
for f in lib/libmorselkind.so lib/libmorselkind.a lib/pkgconfig/morselkind.pc include/memkind.h include/hbwmalloc.h \
    include/memkind_deprecated.h include/morselkind.h include/pmem_allocator.h include/memkind_allocator.h \
    include/fixed_allocator.h include/hbw_allocator.h; do
    [[ -f "$PREFIX/$f" ]] || die "$f was not installed"
done
[[ "$(readlink "$PREFIX/lib/libmorselkind.so.0")" == libmorselkind.so ]] || die "lib/libmorselkind.so.0 is not a link to libmorselkind.so"
grep -q 'SONAME.*libmorselkind.so.0' <<<"$(readelf -d "$PREFIX/lib/libmorselkind.so")" || die "the installed library's soname is not libmorselkind.so.0"

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
version=$(pkg-config --modversion morselkind) || die "pkg-config does not find morselkind"
cflags=$(pkg-config --cflags morselkind)
libs=$(pkg-config --libs morselkind)
static_libs=$(pkg-config --static --libs morselkind)
say "pkg-config: morselkind $version; --cflags: $cflags; --libs: $libs; --static --libs: $static_libs"

# Dynamic: the installed headers and library, nothing from the build tree.
"$CC" "${CFLAGS_COMMON[@]}" -MD -MF "$WORK/dyn.d" "$ROOT/tests/c/static_app.c" -o "$WORK/app_dynamic" \
    $cflags $libs -Wl,-rpath,"$PREFIX/lib" || die "building with pkg-config --cflags --libs failed"
grep -q "$PREFIX/include/memkind.h" "$WORK/dyn.d" || die "the dynamic build did not use the installed memkind.h"
resolved=$(ldd "$WORK/app_dynamic" | awk '/libmorselkind/ {print $1 " => " $3}')
[[ "$resolved" == "libmorselkind.so.0 => $PREFIX/lib/libmorselkind.so.0" ]] || die "app_dynamic loads: $resolved"
dir=$(new_pmem_dir dynamic)
"$WORK/app_dynamic" "$dir" || die "the dynamically linked program failed"
check_empty_dir "$dir"
say "dynamic: $resolved"

# Static.
"$CC" "${CFLAGS_COMMON[@]}" -static "$ROOT/tests/c/static_app.c" -o "$WORK/app_static" \
    $(pkg-config --static --cflags --libs morselkind) 2>"$WORK/static.ld" ||
    { cat "$WORK/static.ld"; die "building with pkg-config --static --cflags --libs failed"; }
grep -q INTERP <<<"$(readelf -lW "$WORK/app_static")" && die "app_static is not statically linked"
dir=$(new_pmem_dir static)
"$WORK/app_static" "$dir" || die "the statically linked program failed"
check_empty_dir "$dir"

say "PASS: installed morselkind $version into a prefix; programs built with pkg-config run, dynamically linked against the installed libmorselkind.so.0 and fully static"
