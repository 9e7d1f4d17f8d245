#!/bin/bash
# dlopen and static linking:
# 1. libmorselkind.so carries no initial-exec TLS (no STATIC_TLS flag, no TPOFF relocations), and
#    a C program dlopen()s it with RTLD_NOW and calls memkind_malloc/free through dlsym, from
#    several threads, also with glibc's optional static TLS surplus set to 0;
# 2. a C program linked with libmorselkind.a (the rest dynamic), and one linked fully static
#    (-static), both work without libmorselkind.so.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=dlopen_static
. "$ROOT/tests/lib.sh"
need_ours

so="$REL/libmorselkind.so"
dyn=$(readelf -dW "$so")
grep -q STATIC_TLS <<<"$dyn" && die "libmorselkind.so has the STATIC_TLS flag"
relocs=$(readelf -rW "$so")
n_tpoff=$(grep -c 'R_X86_64_TPOFF' <<<"$relocs")
[[ "$n_tpoff" -eq 0 ]] || die "libmorselkind.so has $n_tpoff initial-exec TLS relocations"
say "libmorselkind.so: no STATIC_TLS flag, no TPOFF relocations"

"$CC" "${CFLAGS_COMMON[@]}" "$ROOT/tests/c/dlopen_app.c" -o "$WORK/dlopen_app" -ldl -lpthread || die "dlopen_app does not build"
grep -q 'NEEDED.*morselkind' <<<"$(readelf -d "$WORK/dlopen_app")" && die "dlopen_app must not link libmorselkind"
for tunables in "" "glibc.rtld.optional_static_tls=0"; do
    dir=$(new_pmem_dir "dlopen$RANDOM")
    if ! GLIBC_TUNABLES="$tunables" "$WORK/dlopen_app" "$so" "$dir" >"$WORK/dlopen.out" 2>&1; then
        cat "$WORK/dlopen.out"
        die "dlopen_app failed${tunables:+ with GLIBC_TUNABLES=$tunables}"
    fi
    sed "s/^/  ${tunables:+[$tunables] }/" "$WORK/dlopen.out"
    check_empty_dir "$dir"
done

# The extra libraries libmorselkind.a needs: rustc --print native-static-libs says
# -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc; gcc adds libgcc_s, libc and (glibc 2.34+) libutil itself.
STATIC_LIBS=(-lpthread -ldl -lm -lrt)
"$CC" "${CFLAGS_COMMON[@]}" -I "$ROOT/include" "$ROOT/tests/c/static_app.c" "$REL/libmorselkind.a" "${STATIC_LIBS[@]}" \
    -o "$WORK/static_app" || die "static_app does not link with libmorselkind.a"
grep -q 'NEEDED.*morselkind' <<<"$(readelf -d "$WORK/static_app")" && die "static_app needs libmorselkind.so"
dir=$(new_pmem_dir static)
"$WORK/static_app" "$dir" || die "static_app (libmorselkind.a) failed"
check_empty_dir "$dir"

"$CC" "${CFLAGS_COMMON[@]}" -static -I "$ROOT/include" "$ROOT/tests/c/static_app.c" "$REL/libmorselkind.a" \
    "${STATIC_LIBS[@]}" -o "$WORK/static_app_full" 2>"$WORK/static.ld" ||
    { cat "$WORK/static.ld"; die "static_app does not link fully static"; }
grep -q INTERP <<<"$(readelf -lW "$WORK/static_app_full")" && die "static_app_full is not fully static"
dir=$(new_pmem_dir static-full)
"$WORK/static_app_full" "$dir" || die "static_app_full (-static) failed"
check_empty_dir "$dir"

say "PASS: dlopen(RTLD_NOW) + dlsym calls work (also with no static TLS surplus); libmorselkind.a links with ${STATIC_LIBS[*]}, dynamically and fully static, and both programs pass"
