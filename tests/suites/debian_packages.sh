#!/bin/bash
# Debian packages: scripts/deb.sh builds libmorselkind0, libmorselkind-dev and morselkind with
# dpkg-deb; they are installed with dpkg beside memkind's own packages (libmemkind-dev, which
# tests/deps.sh installs: a file of both would make dpkg refuse); a C program is built with
# `pkg-config --cflags --libs morselkind` alone (no PKG_CONFIG_PATH, no LD_LIBRARY_PATH, no
# rpath) and runs on /usr/lib/<multiarch>/libmorselkind.so.0, with morselkind's memkind.h from
# /usr/include/morselkind, while a program built against memkind still gets memkind's own
# header and library; the installed command and its man pages work; then the packages are
# removed and nothing of them is left.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=debian_packages
. "$ROOT/tests/lib.sh"
need_ours
command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (not a Debian system)"
command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config, or bash tests/deps.sh)"
[[ $EUID -eq 0 ]] || skip "installing packages needs root"
PKGS=(libmorselkind0 libmorselkind-dev morselkind)
for p in "${PKGS[@]}"; do
    if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        skip "$p is already installed on this machine; this suite installs and removes its own build"
    fi
done

remove() { dpkg --purge "${PKGS[@]}" >"$WORK/purge.log" 2>&1; }
trap 'remove; _lib_cleanup' EXIT

mapfile -t DEBS < <(NO_BUILD=1 bash "$ROOT/scripts/deb.sh" "$WORK/debs") || die "scripts/deb.sh failed"
[[ ${#DEBS[@]} -eq 3 ]] || die "scripts/deb.sh made ${#DEBS[@]} packages: ${DEBS[*]}"
say "built: $(for d in "${DEBS[@]}"; do basename "$d"; done | tr '\n' ' ')"

memkind_dev=no
dpkg-query -W -f '${Status}' libmemkind-dev 2>/dev/null | grep -q 'install ok installed' && memkind_dev=yes
dpkg -i "${DEBS[@]}" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; die "dpkg -i failed"; }
say "installed with dpkg (libmemkind-dev installed beside: $memkind_dev)"

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIB="/usr/lib/$MA"
for f in "$LIB/libmorselkind.so.0" "$LIB/libmorselkind.so" "$LIB/libmorselkind.a" "$LIB/libmorseltier.so" "$LIB/libmorselcache.so.0" "$LIB/libmorselcache.so" \
    "$LIB/pkgconfig/morselkind.pc" /usr/include/morselkind/memkind.h /usr/include/morselkind/morselkind.h \
    /usr/bin/morselkind /usr/share/man/man1/morselkind.1.gz /usr/share/man/man1/morselkind-run.1.gz; do
    [[ -e "$f" ]] || die "$f is not installed"
done
dpkg -S /usr/include/memkind.h 2>/dev/null | grep -q morselkind && die "/usr/include/memkind.h belongs to a morselkind package"

# A program built with pkg-config alone.
cflags=$(pkg-config --cflags morselkind) || die "pkg-config does not find morselkind"
libs=$(pkg-config --libs morselkind)
[[ "$cflags" == "-I/usr/include/morselkind"* ]] || die "pkg-config --cflags morselkind: $cflags"
# shellcheck disable=SC2086 # pkg-config's words
"$CC" "${CFLAGS_COMMON[@]}" -MD -MF "$WORK/app.d" "$ROOT/tests/c/static_app.c" -o "$WORK/app" \
    $(pkg-config --cflags --libs morselkind) || die "building with pkg-config --cflags --libs morselkind failed"
grep -q /usr/include/morselkind/memkind.h "$WORK/app.d" || die "the program did not use /usr/include/morselkind/memkind.h"
resolved=$(env -u LD_LIBRARY_PATH ldd "$WORK/app" | awk '/libmorselkind/ {print $1 " => " $3}')
# /lib may be /usr/lib (merged /usr): compare where the paths lead.
[[ "${resolved%% *}" == libmorselkind.so.0 && "$(readlink -f "${resolved##* }")" == "$(readlink -f "$LIB/libmorselkind.so.0")" ]] ||
    die "the program loads: $resolved"
dir=$(new_pmem_dir app)
env -u LD_LIBRARY_PATH "$WORK/app" "$dir" || die "the program built with pkg-config failed"
check_empty_dir "$dir"
say "cc app.c \$(pkg-config --cflags --libs morselkind): $cflags $libs; runs on $resolved"

# memkind's own programs are untouched.
if [[ $memkind_dev == yes ]]; then
    printf '#include <memkind.h>\nint main(void){void *p = memkind_malloc(MEMKIND_DEFAULT, 64); memkind_free(MEMKIND_DEFAULT, p); return p == 0;}\n' \
        >"$WORK/theirs.c"
    "$CC" -MD -MF "$WORK/theirs.d" "$WORK/theirs.c" -o "$WORK/theirs" -lmemkind || die "a memkind program no longer builds"
    grep -q ' /usr/include/memkind.h' "$WORK/theirs.d" || die "a memkind program does not get /usr/include/memkind.h"
    ldd "$WORK/theirs" | grep -q 'libmemkind.so.0' || die "a memkind program does not load libmemkind"
    "$WORK/theirs" || die "a memkind program fails"
    say "memkind's memkind.h and libmemkind.so.0 still serve memkind programs"
fi

# The command, its tiering library and its man pages.
/usr/bin/morselkind --version | grep -q "^morselkind " || die "morselkind --version"
out=$(env -u MEMKIND_MEM_TIERS /usr/bin/morselkind run --tiers "KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO" -- env 2>"$WORK/run.err") ||
    { cat "$WORK/run.err"; die "morselkind run failed"; }
[[ "$(grep '^LD_PRELOAD=' <<<"$out")" == "LD_PRELOAD=$LIB/libmorseltier.so" ]] || die "morselkind run preloaded: $(grep '^LD_PRELOAD=' <<<"$out")"
grep -q 'live-byte ratio over the run\|live bytes over the run' "$WORK/run.err" || { cat "$WORK/run.err"; die "morselkind run gave no tier report"; }
zcat /usr/share/man/man1/morselkind-run.1.gz | grep -q '^\.TH morselkind-run 1' || die "morselkind-run.1.gz is not a man page"
if command -v man >/dev/null; then
    [[ "$(man -w morselkind-run 2>/dev/null)" == /usr/share/man/man1/morselkind-run.1.gz ]] || die "man -w morselkind-run: $(man -w morselkind-run 2>&1)"
fi
say "morselkind run preloads $LIB/libmorseltier.so; man pages installed"

# Removal leaves nothing.
remove || { cat "$WORK/purge.log"; die "dpkg --purge failed"; }
for f in "$LIB/libmorselkind.so.0" "$LIB/libmorselkind.so" "$LIB/libmorseltier.so" /usr/include/morselkind /usr/bin/morselkind \
    /usr/share/man/man1/morselkind.1.gz "$LIB/pkgconfig/morselkind.pc"; do
    [[ -e "$f" ]] && die "$f is left after dpkg --purge"
done
pkg-config --exists morselkind && die "pkg-config still finds morselkind after removal"
say "PASS: the three packages build with dpkg-deb, install beside memkind's, serve a pkg-config build and the command, and purge cleanly"
