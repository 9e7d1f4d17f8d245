#!/bin/bash
# Install and pkg-config: scripts/install.sh installs into a temporary prefix (lib with
# libmorselkind.so.0, its libmorselkind.so link, libmorselkind.a and libmorseltier.so; the
# headers in include/morselkind; lib/pkgconfig/morselkind.pc; bin/morselkind; man pages);
# a C program is built with `pkg-config --cflags --libs morselkind` (dynamic) and with
# `pkg-config --static --cflags --libs morselkind` and -static (static), and both run; the
# installed command runs a program on tiered memory with the installed libmorseltier.so.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=install_pkgconfig
. "$ROOT/tests/lib.sh"
need_ours
command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config, or bash tests/deps.sh)"

PREFIX="$WORK/prefix"
NO_BUILD=1 bash "$ROOT/scripts/install.sh" "$PREFIX" || die "scripts/install.sh failed"
for f in lib/libmorselkind.so.0 lib/libmorselkind.a lib/libmorseltier.so lib/libmorselcache.so.0 lib/pkgconfig/morselkind.pc \
    bin/morselkind share/man/man1/morselkind.1 share/man/man1/morselkind-run.1 share/man/man1/morselkind-demo.1 \
    share/man/man1/morselkind-info.1; do
    [[ -f "$PREFIX/$f" ]] || die "$f was not installed"
done
for h in "$ROOT"/include/*.h; do
    cmp -s "$h" "$PREFIX/include/morselkind/$(basename "$h")" || die "include/morselkind/$(basename "$h") was not installed"
    [[ -e "$PREFIX/include/$(basename "$h")" ]] && die "$(basename "$h") was installed in include/, where memkind's own is"
done
[[ "$(readlink "$PREFIX/lib/libmorselkind.so")" == libmorselkind.so.0 ]] || die "lib/libmorselkind.so is not a link to libmorselkind.so.0"
grep -q 'SONAME.*libmorselkind.so.0' <<<"$(readelf -d "$PREFIX/lib/libmorselkind.so.0")" || die "the installed library's soname is not libmorselkind.so.0"
grep -q '^\.TH morselkind-run 1' "$PREFIX/share/man/man1/morselkind-run.1" || die "morselkind-run.1 is not a man page"

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
version=$(pkg-config --modversion morselkind) || die "pkg-config does not find morselkind"
cflags=$(pkg-config --cflags morselkind)
libs=$(pkg-config --libs morselkind)
static_libs=$(pkg-config --static --libs morselkind)
say "pkg-config: morselkind $version; --cflags: $cflags; --libs: $libs; --static --libs: $static_libs"

# Dynamic: the installed headers and library, nothing from the build tree.
"$CC" "${CFLAGS_COMMON[@]}" -MD -MF "$WORK/dyn.d" "$ROOT/tests/c/static_app.c" -o "$WORK/app_dynamic" \
    $cflags $libs -Wl,-rpath,"$PREFIX/lib" || die "building with pkg-config --cflags --libs failed"
grep -q "$PREFIX/include/morselkind/memkind.h" "$WORK/dyn.d" || die "the dynamic build did not use the installed memkind.h"
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

# The installed command finds the installed libmorseltier.so (PREFIX/lib) by itself.
out=$(env -u MEMKIND_MEM_TIERS "$PREFIX/bin/morselkind" run --tiers "KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO" -- \
    env 2>"$WORK/run.err") || { cat "$WORK/run.err"; die "the installed morselkind run failed"; }
[[ "$(grep '^LD_PRELOAD=' <<<"$out")" == "LD_PRELOAD=$PREFIX/lib/libmorseltier.so" ]] ||
    die "the installed morselkind run preloaded $(grep '^LD_PRELOAD=' <<<"$out")"
grep -q 'live-byte ratio over the run\|live bytes over the run' "$WORK/run.err" || { cat "$WORK/run.err"; die "the installed morselkind run gave no tier report"; }

# No argument is the default prefix, /usr/local (not exercised here: it would install into the
# machine); anything else is a usage error.
bash "$ROOT/scripts/install.sh" a b 2>/dev/null && die "install.sh took two arguments"
usage=$(bash "$ROOT/scripts/install.sh" --help 2>&1)
[[ $? -eq 2 && "$usage" == *"default /usr/local"* ]] || die "install.sh --help: $usage"

say "PASS: installed morselkind $version into a prefix; programs built with pkg-config run, dynamically linked against the installed libmorselkind.so.0 and fully static"
