#!/bin/bash
# memkind_defrag_reallocate and memkind_set_bg_threads act (tests/c/defrag_bg.c, against
# libmorselkind): defragmenting sparse slabs moves their blocks (new address, same contents) and
# gives memory back (ACTIVE, RESIDENT and the PMEM file's blocks drop); with background threads
# on, a PMEM kind's freed memory goes back while the program makes no allocation call (and with
# them off it does not). The defrag half also runs against memkind, for reference.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=defrag_bgthreads
. "$ROOT/tests/lib.sh"
need_ours

build_ours "$WORK/defrag_bg" "$ROOT/tests/c/defrag_bg.c" || die "defrag_bg does not build against morselkind"
dir=$(new_pmem_dir ours)
"$WORK/defrag_bg" "$dir" all >"$WORK/ours.out" 2>&1
rc=$?
sed 's/^/  morselkind: /' "$WORK/ours.out"
check_empty_dir "$dir"

if [[ -f /usr/include/memkind.h ]] && build_theirs "$WORK/defrag_bg.memkind" "$ROOT/tests/c/defrag_bg.c" 2>/dev/null; then
    dir=$(new_pmem_dir theirs)
    "$WORK/defrag_bg.memkind" "$dir" defrag 2>&1 | grep '^defrag' | sed 's/^/  memkind (reference): /'
    check_empty_dir "$dir"
fi

[[ $rc -eq 0 ]] || die "defrag_bg failed against morselkind (exit $rc)"
moved=$(sed -n 's/^defrag: [0-9]* passes moved \([0-9]*\) sparse-slab blocks.*/\1/p' "$WORK/ours.out")
say "PASS: defrag moved $moved blocks off sparse slabs with contents intact and memory returned; background threads purged a PMEM kind with no allocation call"
