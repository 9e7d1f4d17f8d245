#!/bin/bash
# Differential: memkind_memtier.h. tests/c/memtier_api.c is built against memkind 1.14 and
# against libmorselkind, both outputs are compared line by line (lines starting with "~" are
# shown side by side, not compared: memkind's crashes and bugs we deliberately do not copy).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
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

# ---- differential placement ----
# Seeded sequences of malloc/calloc/realloc/free (16 B to 4 MiB) through the memtier API on
# both libraries: every allocating call must land in the same tier, and the ratios read at the
# end (memtier_kind_allocated_size, which drains the thread buckets) must agree within 0.05.
# Tiers: D(EFAULT), R(EGULAR), I(NTERLEAVE), P(MEM). memkind 1.14 crashes in realloc on a PMEM
# tier under DYNAMIC_THRESHOLD with these sequences (SIGSEGV inside memkind_default_realloc),
# so DYNAMIC_THRESHOLD's three tiers are D, R, I.
build_theirs "$WORK/placement.theirs" "$ROOT/tests/c/memtier_placement.c" || die "memtier_placement does not build against memkind"
build_ours "$WORK/placement.ours" "$ROOT/tests/c/memtier_placement.c" || die "memtier_placement does not build against libmorselkind"
SEEDS=${MEMTIER_PLACEMENT_SEEDS:-10}
CALLS=${MEMTIER_PLACEMENT_CALLS:-10000}
placements=0 runs=0 worst=0
for cfg in "static DR" "static DRI" "static DRP" "dynamic DR" "dynamic DRI"; do
    read -r policy tiers <<<"$cfg"
    for seed in $(seq 1 "$SEEDS"); do
        for side in theirs ours; do
            "$WORK/placement.$side" "$(new_pmem_dir "placement-$side")" "$policy" "$tiers" "$seed" "$CALLS" \
                >"$WORK/placement.$side.out" 2>"$WORK/placement.$side.err" ||
                { cat "$WORK/placement.$side.err"; die "memtier_placement $cfg seed $seed fails against $side"; }
        done
        check_empty_dir "$WORK/pmem-placement-ours"
        grep -v '^ratio' "$WORK/placement.theirs.out" >"$WORK/placement.theirs.tiers"
        grep -v '^ratio' "$WORK/placement.ours.out" >"$WORK/placement.ours.tiers"
        if ! cmp -s "$WORK/placement.theirs.tiers" "$WORK/placement.ours.tiers"; then
            diff "$WORK/placement.theirs.tiers" "$WORK/placement.ours.tiers" | head -6
            [[ $policy == static ]] && die "STATIC_RATIO $tiers seed $seed: a call landed in another tier than memkind's"
            say "DYNAMIC_THRESHOLD $tiers seed $seed: placements differ from memkind's (the ratio decides)"
        else
            placements=$((placements + $(tr -d '\n' <"$WORK/placement.ours.tiers" | sed 's/destroyed kind: [0-9]* bytes//' | wc -c)))
        fi
        # Ratios: "ratio I/0: X (target ...)", same lines on both sides.
        d=$(paste <(awk '/^ratio/ { print $3 }' "$WORK/placement.theirs.out") <(awk '/^ratio/ { print $3 }' "$WORK/placement.ours.out") |
            awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.4f", m + 0 }')
        awk -v d="$d" -v w="$worst" 'BEGIN { exit !(d > w) }' && worst=$d
        awk -v d="$d" 'BEGIN { exit !(d > 0.05) }' && die "$cfg seed $seed: a ratio differs by $d from memkind's"
        runs=$((runs + 1))
    done
done
# Ours alone where memkind crashes: DYNAMIC_THRESHOLD with a PMEM tier.
for seed in 1 2 3; do
    "$WORK/placement.ours" "$(new_pmem_dir placement-ours)" dynamic DRP "$seed" "$CALLS" >/dev/null 2>"$WORK/placement.ours.err" ||
        { cat "$WORK/placement.ours.err"; die "memtier_placement dynamic DRP seed $seed fails against ours"; }
    check_empty_dir "$WORK/pmem-placement-ours"
done
say "placement: $runs sequences of $CALLS calls, $placements allocating calls in the same tier as memkind's; ratios within $worst of memkind's"
