#!/bin/bash
# LD_PRELOAD: a program compiled and linked against the system memkind (-lmemkind) runs with
# LD_PRELOAD=libmorselkind.so: the dynamic linker binds its memkind_* calls to our library
# (LD_DEBUG=bindings shows it), and the program's own checks pass. The same binary run without
# the preload is the control (memkind answers, and passes the same checks).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=ld_preload
. "$ROOT/tests/lib.sh"
need_theirs
need_ours

"$CC" "${CFLAGS_COMMON[@]}" "$ROOT/tests/c/preload_app.c" -o "$WORK/preload_app" -lmemkind -ldl ||
    die "preload_app does not build against memkind"
grep -q 'NEEDED.*libmemkind.so.0' <<<"$(readelf -d "$WORK/preload_app")" || die "preload_app is not linked with libmemkind.so.0"

dir=$(new_pmem_dir control)
"$WORK/preload_app" "$dir" >"$WORK/control.out" 2>&1 || { cat "$WORK/control.out"; die "preload_app fails on memkind itself"; }
grep -qx 'backend: memkind' "$WORK/control.out" || die "control run did not run on memkind"
check_empty_dir "$dir"

dir=$(new_pmem_dir preload)
LD_PRELOAD="$REL/libmorselkind.so" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$WORK/bindings" \
    "$WORK/preload_app" "$dir" >"$WORK/preload.out" 2>&1
rc=$?
cat "$WORK/preload.out"
[[ $rc -eq 0 ]] || die "preload_app failed its checks under LD_PRELOAD (exit $rc)"
grep -qx 'backend: morselkind' "$WORK/preload.out" || die "the preloaded run did not reach morselkind"
check_empty_dir "$dir"

bindings=$(cat "$WORK"/bindings.* 2>/dev/null)
[[ -n "$bindings" ]] || die "LD_DEBUG=bindings wrote nothing"
# The program's own references: "binding file .../preload_app [0] to .../libmorselkind.so [0]: normal symbol `memkind_malloc'".
n_ours=0
for sym in memkind_malloc memkind_free memkind_create_pmem hbw_malloc MEMKIND_DEFAULT; do
    line=$(grep -F "binding file $WORK/preload_app " <<<"$bindings" | grep -F "symbol \`$sym'" | head -1)
    [[ -n "$line" ]] || die "no binding of $sym from preload_app"
    grep -q "to $REL/libmorselkind.so \[0\]" <<<"$line" || die "$sym is bound elsewhere: $line"
    [[ $sym == memkind_malloc ]] && say "LD_DEBUG: $(sed 's/^ *[0-9]*:[[:space:]]*//' <<<"$line")"
    say "$sym -> $(sed -E 's/.* to ([^ ]+) .*/\1/' <<<"$line")"
    n_ours=$((n_ours + 1))
done
n_memkind=$(grep -F "binding file $WORK/preload_app " <<<"$bindings" | grep -c "to [^ ]*libmemkind.so")
[[ "$n_memkind" -eq 0 ]] || { grep -F "binding file $WORK/preload_app " <<<"$bindings" | grep "libmemkind.so" | head; die "$n_memkind of preload_app's symbols still bind to libmemkind"; }
say "PASS: a -lmemkind program ran on libmorselkind.so via LD_PRELOAD: $n_ours checked symbols (memkind_malloc among them) bound to libmorselkind.so, none to libmemkind, and its checks passed"
