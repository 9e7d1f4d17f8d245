#!/bin/bash
# Differential: memkind_memtier.h. tests/c/memtier_api.c is built against memkind 1.14 and
# against libmorselkind, both outputs are compared line by line (lines starting with "~" are
# shown side by side, not compared: memkind's crashes and bugs we deliberately do not copy).
set -uo pipefail
. "$ROOT/tests/lib.sh"

need_ours
need_theirs

build_theirs "$WORK/theirs" "$ROOT/tests/c/memtier_api.c" || die "cannot build against memkind"
build_ours "$WORK/ours" "$ROOT/tests/c/memtier_api.c" || die "cannot build against libmorselkind"

dir_t=$(new_pmem_dir theirs)
dir_o=$(new_pmem_dir ours)
"$WORK/theirs" "$dir_t" >"$WORK/theirs.out" 2>"$WORK/theirs.err"
rc_t=$?
"$WORK/ours" "$dir_o" >"$WORK/ours.out" 2>"$WORK/ours.err"
rc_o=$?
[[ $rc_t -eq 0 ]] || { cat "$WORK/theirs.err" >&2; die "the program fails against memkind (status $rc_t)"; }
[[ $rc_o -eq 0 ]] || { cat "$WORK/ours.err" >&2; die "the program fails against libmorselkind (status $rc_o)"; }
check_empty_dir "$dir_o"

cases=$(grep -vc '^~' "$WORK/theirs.out")
if ! diff <(grep -v '^~' "$WORK/theirs.out") <(grep -v '^~' "$WORK/ours.out") >"$WORK/diff"; then
    cat "$WORK/diff"
    die "memkind_memtier.h: the outputs differ (< memkind, > morselkind)"
fi
say "shown, not compared (memkind | morselkind):"
paste -d'|' <(grep '^~' "$WORK/theirs.out") <(grep '^~' "$WORK/ours.out") | sed 's/^/    /'
say "$cases cases agree with memkind 1.14"
