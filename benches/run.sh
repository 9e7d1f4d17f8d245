#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Copyright (c) morselkind authors
#
# benches/run.sh - morselkind against the system memkind, in one run.
#
#   bash benches/run.sh            full run (~10 min): 5 reps, 10 s churn, 2 GiB fills,
#                                  7 reps of the ext4 PMEM fills
#   bash benches/run.sh --quick    smoke run (~2 min): 3 reps, 3 s churn, 512 MiB fills
#
# It builds benches/bench.c twice, against the system memkind (gcc -O2 ... -lmemkind) and
# against morselkind (-DBENCH_OURS -I include -lmorselkind, on a frozen copy of
# target/release/libmorselkind.so so that a concurrent cargo build cannot swap the library
# under a running benchmark). Every workload gets warm-up runs of both sides, then
# alternating runs: memkind, ours, memkind, ours, ... Each run is a fresh process that
# prints one figure (plus key=value extras). The table gives medians and min-max, and is
# written to benches/results.md (benches/results-quick.md for --quick).
#
# Options (or the environment variables in brackets):
#   --quick                 the smoke settings above
#   --reps N                measured runs per side                       [REPS]
#   --fill-reps N           runs of every fill workload (full: max(7, reps)) [FILL_REPS]
#   --warmup N              warm-up runs per side                        [WARMUP=1]
#   --churn-seconds S       length of each churn run                     [CHURN_SECONDS]
#   --fill SIZE             bytes per first-touch fill, e.g. 2G, 512M    [FILL]
#   --iters N               malloc/free pairs per thread and run         [ITERS]
#   --shared-iters N        pairs per thread in the shared PMEM workload [SHARED_ITERS]
#   --shared-threads N      threads sharing one PMEM kind                [SHARED_THREADS=8]
#   --scale-pairs N         pairs in all of a scale run, split over its threads [SCALE_PAIRS]
#   --kchurn-seconds S      length of each kchurn run                    [KCHURN_SECONDS]
#   --only REGEX            run only the workloads whose id matches (ids: see --list)
#   --list                  print the workload ids and exit
#   --out FILE              where to write the table
#   --no-build              do not run cargo build --release
#   --baseline COMMIT       instead of memkind, compare with libmorselkind built at COMMIT
#                           (a git worktree under benches/build, built there): the "memkind"
#                           columns then hold that commit's figures, measured alternately with
#                           ours in the same run; the table goes to results-baseline.md
#
# Before every ext4 PMEM fill run it does `sync; echo 3 > /proc/sys/vm/drop_caches` when
# it runs as root (and says so in the table when it cannot). Before every fill it touches and
# frees as much plain memory as the fill takes (`bench warm`): this machine is a VM with free
# page reporting, and memory idle for ~2 s costs whoever touches it next a host fault per page. Exits non-zero when a run
# failed or when our churn had failed calls.

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/benches"
REL="$ROOT/target/release"
B="$BENCH/build"
CC="${CC:-gcc}"
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror)

QUICK=0
BUILD=1
ONLY=""
LIST=0
OUT=""
BASELINE=""
REPS="${REPS:-}"
FILL_REPS="${FILL_REPS:-}"
WARMUP="${WARMUP:-1}"
CHURN_SECONDS="${CHURN_SECONDS:-}"
FILL="${FILL:-}"
ITERS="${ITERS:-}"
SHARED_ITERS="${SHARED_ITERS:-}"
SHARED_THREADS="${SHARED_THREADS:-8}"
SCALE_PAIRS="${SCALE_PAIRS:-}"
KCHURN_SECONDS="${KCHURN_SECONDS:-}"

usage() { sed -n '4,39s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS="$2"; shift ;;
    --fill-reps) FILL_REPS="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --churn-seconds) CHURN_SECONDS="$2"; shift ;;
    --fill) FILL="$2"; shift ;;
    --iters) ITERS="$2"; shift ;;
    --shared-iters) SHARED_ITERS="$2"; shift ;;
    --shared-threads) SHARED_THREADS="$2"; shift ;;
    --scale-pairs) SCALE_PAIRS="$2"; shift ;;
    --kchurn-seconds) KCHURN_SECONDS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --list) LIST=1 ;;
    --out) OUT="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --baseline) BASELINE="$2"; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage 2 ;;
    esac
    shift
done

if ((QUICK)); then
    : "${REPS:=3}" "${FILL_REPS:=$REPS}" "${CHURN_SECONDS:=3}" "${FILL:=512M}"
    : "${ITERS:=1000000}" "${SHARED_ITERS:=250000}" "${OUT:=$BENCH/results-quick.md}"
    : "${SCALE_PAIRS:=1000000}" "${KCHURN_SECONDS:=1}"
    MODE=quick
else
    : "${REPS:=5}" "${CHURN_SECONDS:=10}" "${FILL:=2G}"
    : "${ITERS:=5000000}" "${SHARED_ITERS:=1000000}" "${OUT:=$BENCH/results.md}"
    : "${SCALE_PAIRS:=4000000}" "${KCHURN_SECONDS:=3}"
    : "${FILL_REPS:=$((REPS > 7 ? REPS : 7))}"
    MODE=full
fi
# A warm-up churn run needs no more than a couple of seconds.
CHURN_WARM_SECONDS=$(awk -v s="$CHURN_SECONDS" 'BEGIN { print (s < 2 ? s : 2) }')

say() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: FAIL: $*" >&2; exit 1; }

# --------------------------------------------------------------- workloads
# id | label | unit of the main figure | better (lower|higher) | memkind args | our args |
# extra rows (field:label:better,...) | pre-run hook | reps
# @DIR@ becomes a fresh, dedicated PMEM directory for the run.
FILL_H="$(echo "$FILL" | sed 's/G$/ GiB/; s/M$/ MiB/')"
WARM="$((${FILL%[GMK]} * 2))${FILL##*[0-9]}"
WARM_H="$(echo "$WARM" | sed 's/G$/ GiB/; s/M$/ MiB/')"
WORKLOADS=(
"pairs-default-1t|random 16–1040 B pairs, DEFAULT, 1 thread|ns/pair|lower|pairs -k default -t 1 -n $ITERS|pairs -k default -t 1 -n $ITERS|cpu:CPU ns/pair:lower||$REPS"
"pairs-default-2t|random 16–1040 B pairs, DEFAULT, 2 threads|ns/pair/thread|lower|pairs -k default -t 2 -n $ITERS|pairs -k default -t 2 -n $ITERS|cpu:CPU ns/pair:lower||$REPS"
"pairs-pmem-1t|random 16–1040 B pairs, PMEM, 1 thread, free(kind, p)|ns/pair|lower|pairs -k pmem -t 1 -n $ITERS -d @DIR@|pairs -k pmem -t 1 -n $ITERS -d @DIR@|cpu:CPU ns/pair:lower||$REPS"
"pairs-pmem-2t|random 16–1040 B pairs, PMEM, 2 threads|ns/pair/thread|lower|pairs -k pmem -t 2 -n $ITERS -d @DIR@|pairs -k pmem -t 2 -n $ITERS -d @DIR@|cpu:CPU ns/pair:lower||$REPS"
"pairs-pmem-1t-freenull|random 16–1040 B pairs, PMEM, 1 thread, rounds of free(kind, p) and free(NULL, p) alternating in one process; main figure: the free(kind, p) rounds|ns/pair|lower|pairs -k pmem -t 1 -n $ITERS -M -d @DIR@|pairs -k pmem -t 1 -n $ITERS -M -d @DIR@|null:ns/pair in the free(NULL) rounds:lower,ratio:free(NULL) ns / free(kind) ns per run:lower||$REPS"
"scaling-default|2-thread scaling in one process (rounds alternate 1 thread alone and 2 threads at once), DEFAULT|2-thread/1-thread throughput|higher|scaling -k default -n $ITERS|scaling -k default -n $ITERS|ns1:ns/pair with 1 thread:lower,ns2:ns/pair/thread with 2 threads:lower||$REPS"
"scaling-pmem|2-thread scaling in one process (rounds alternate 1 thread alone and 2 threads at once), PMEM|2-thread/1-thread throughput|higher|scaling -k pmem -n $ITERS -d @DIR@|scaling -k pmem -n $ITERS -d @DIR@|ns1:ns/pair with 1 thread:lower,ns2:ns/pair/thread with 2 threads:lower||$REPS"
"shared-pmem|$SHARED_THREADS threads share one PMEM kind (pmem_multithreads_onekind)|ns/op|lower|shared -t $SHARED_THREADS -n $SHARED_ITERS -d @DIR@|shared -t $SHARED_THREADS -n $SHARED_ITERS -d @DIR@|cpu:CPU ns/pair:lower||$REPS"
"jemalloc-default-1t|random 16–1040 B pairs, 1 thread: the \"memkind\" column is plain malloc/free on the system libjemalloc (LD_PRELOAD), ours is DEFAULT|ns/pair|lower|pairs -k malloc -t 1 -n $ITERS|pairs -k default -t 1 -n $ITERS|cpu:CPU ns/pair:lower|jemalloc|$REPS"
"jemalloc-default-2t|random 16–1040 B pairs, 2 threads: plain jemalloc (LD_PRELOAD) against ours DEFAULT|ns/pair/thread|lower|pairs -k malloc -t 2 -n $ITERS|pairs -k default -t 2 -n $ITERS|cpu:CPU ns/pair:lower|jemalloc|$REPS"
"jemalloc-pmem-1t|random 16–1040 B pairs, 1 thread: plain jemalloc (LD_PRELOAD) against ours PMEM|ns/pair|lower|pairs -k malloc -t 1 -n $ITERS|pairs -k pmem -t 1 -n $ITERS -d @DIR@|cpu:CPU ns/pair:lower|jemalloc|$REPS"
"jemalloc-pmem-2t|random 16–1040 B pairs, 2 threads: plain jemalloc (LD_PRELOAD) against ours PMEM|ns/pair/thread|lower|pairs -k malloc -t 2 -n $ITERS|pairs -k pmem -t 2 -n $ITERS -d @DIR@|cpu:CPU ns/pair:lower|jemalloc|$REPS"
"churn|PMEM create/100 allocs/destroy, ${CHURN_SECONDS} s, 2 DEFAULT threads busy|cycles|higher|churn -s $CHURN_SECONDS -d @DIR@|churn -s $CHURN_SECONDS -d @DIR@|cpurate:cycles per CPU second of the churning thread:higher,failed:failed calls:lower||$REPS"
"fill-default-64M|first touch $FILL_H in 64 MiB pieces, DEFAULT|GiB/s|higher|fill -k default -p 64M -T $FILL|fill -k default -p 64M -T $FILL|faults:minor faults:lower|warm|$FILL_REPS"
"fill-default-64K|first touch $FILL_H in 64 KiB pieces, DEFAULT|GiB/s|higher|fill -k default -p 64K -T $FILL|fill -k default -p 64K -T $FILL|faults:minor faults:lower|warm|$FILL_REPS"
"fill-huge-64M|first touch $FILL_H in 64 MiB pieces, ours MORSELKIND_HUGE vs memkind DEFAULT|GiB/s|higher|fill -k default -p 64M -T $FILL|fill -k huge -p 64M -T $FILL|faults:minor faults:lower|warm|$FILL_REPS"
"fill-huge-64K|first touch $FILL_H in 64 KiB pieces, ours MORSELKIND_HUGE vs memkind DEFAULT|GiB/s|higher|fill -k default -p 64K -T $FILL|fill -k huge -p 64K -T $FILL|faults:minor faults:lower|warm|$FILL_REPS"
"fill-pmem-64M|first touch $FILL_H in 64 MiB pieces, PMEM on ext4 /var/tmp|GiB/s|higher|fill -k pmem -p 64M -T $FILL -d @DIR@|fill -k pmem -p 64M -T $FILL -d @DIR@|faults:minor faults:lower|dropcaches+warm|$FILL_REPS"
"fill-pmem-64K|first touch $FILL_H in 64 KiB pieces, PMEM on ext4 /var/tmp|GiB/s|higher|fill -k pmem -p 64K -T $FILL -d @DIR@|fill -k pmem -p 64K -T $FILL -d @DIR@|faults:minor faults:lower|dropcaches+warm|$FILL_REPS"
)
# Scale (issue 16): the pairs workload on 1 to 64 threads (on however many cores there are),
# $SCALE_PAIRS pairs in all split over the threads; CPU time per pair is the figure, since with
# more threads than cores wall time says only how the cores were shared. Then PMEM kind churn
# on 1 and 64 threads at once.
for t in 1 2 8 64; do
    WORKLOADS+=("scale-default-${t}t|pairs on $t thread(s) at once, DEFAULT, $SCALE_PAIRS pairs in all|CPU ns/pair|lower|scale -k default -t $t -n $SCALE_PAIRS|scale -k default -t $t -n $SCALE_PAIRS|wall:wall ns/pair (all threads' pairs):lower||$REPS")
done
for t in 1 2 8 64; do
    WORKLOADS+=("scale-pmem-${t}t|pairs on $t thread(s) at once sharing one PMEM kind, $SCALE_PAIRS pairs in all|CPU ns/pair|lower|scale -k pmem -t $t -n $SCALE_PAIRS -d @DIR@|scale -k pmem -t $t -n $SCALE_PAIRS -d @DIR@|wall:wall ns/pair (all threads' pairs):lower,live:bytes still allocated in the kind after every thread freed and exited:lower||$REPS")
done
for t in 1 64; do
    WORKLOADS+=("kchurn-${t}t|PMEM create/100 allocs/destroy cycles on $t thread(s) at once, ${KCHURN_SECONDS} s|CPU µs/cycle|lower|kchurn -t $t -s $KCHURN_SECONDS -d @DIR@|kchurn -t $t -s $KCHURN_SECONDS -d @DIR@|cycles:cycles:higher,failed:failed calls:lower||$REPS")
done

if ((LIST)); then
    for w in "${WORKLOADS[@]}"; do IFS='|' read -r id label _ <<<"$w"; printf '%-24s %s\n' "$id" "$label"; done
    exit 0
fi

# ------------------------------------------------------------------- build
mkdir -p "$B/lib" "$B/bin"
if ((BUILD)); then
    say "cargo build --release"
    (cd "$ROOT" && cargo build --release >&2) || die "cargo build --release failed"
fi
[[ -f "$REL/libmorselkind.so" ]] || die "$REL/libmorselkind.so is missing: run cargo build --release"
[[ -f /usr/include/memkind.h ]] || die "the system memkind is not installed (apt-get install libmemkind-dev)"
ln -sfn libmorselkind.so "$REL/libmorselkind.so.0"
# Freeze the library under test: other builds may replace target/release's copy mid-run.
cp -f "$REL/libmorselkind.so" "$B/lib/libmorselkind.so.tmp" && mv -f "$B/lib/libmorselkind.so.tmp" "$B/lib/libmorselkind.so"
ln -sfn libmorselkind.so "$B/lib/libmorselkind.so.0"

THEIRS="$B/bin/bench-memkind"
JEMALLOC="$(ldconfig -p 2>/dev/null | awk '/libjemalloc\.so\.2 / { print $NF; exit }')"
OURS="$B/bin/bench-ours"
if [[ -n $BASELINE ]]; then
    # The baseline: our library at another commit, built in a worktree of its own.
    BASE_SRC="$B/baseline-src"
    BASE_REV="$(cd "$ROOT" && git rev-parse --short "$BASELINE")" || die "no such commit: $BASELINE"
    (cd "$ROOT" && git worktree remove --force "$BASE_SRC" 2>/dev/null; git worktree prune)
    (cd "$ROOT" && git worktree add --detach "$BASE_SRC" "$BASELINE" >&2) || die "cannot check out $BASELINE"
    say "cargo build --release at $BASE_REV (baseline)"
    (cd "$BASE_SRC" && cargo build --release -p morselkind-ffi >&2) || die "the baseline does not build"
    mkdir -p "$B/lib-base"
    cp -f "$BASE_SRC/target/release/libmorselkind.so" "$B/lib-base/libmorselkind.so"
    ln -sfn libmorselkind.so "$B/lib-base/libmorselkind.so.0"
    "$CC" "${CFLAGS[@]}" -DBENCH_OURS -I "$ROOT/include" "$BENCH/bench.c" -o "$THEIRS" \
        -L "$B/lib-base" -lmorselkind -Wl,-rpath,"$B/lib-base" -lpthread || die "building against the baseline failed"
    grep -q "$B/lib-base/libmorselkind\.so" <<<"$(ldd "$THEIRS")" || die "$THEIRS does not load the baseline"
    [[ -n $OUT && $OUT != "$BENCH/results.md" && $OUT != "$BENCH/results-quick.md" ]] || OUT="$BENCH/results-baseline.md"
    (cd "$ROOT" && git worktree remove --force "$BASE_SRC" && git worktree prune)
else
    "$CC" "${CFLAGS[@]}" "$BENCH/bench.c" -o "$THEIRS" -lmemkind -lpthread || die "building against memkind failed"
    grep -q 'libmemkind\.so' <<<"$(ldd "$THEIRS")" || die "$THEIRS is not linked with libmemkind"
fi
"$CC" "${CFLAGS[@]}" -DBENCH_OURS -I "$ROOT/include" "$BENCH/bench.c" -o "$OURS" \
    -L "$B/lib" -lmorselkind -Wl,-rpath,"$B/lib" -lpthread || die "building against morselkind failed"
LDD_O="$(ldd "$OURS")"
grep -q "$B/lib/libmorselkind\.so" <<<"$LDD_O" || die "$OURS does not load $B/lib/libmorselkind.so"
! grep -q 'libmemkind\.so' <<<"$LDD_O" || die "$OURS pulls in the system libmemkind"

# ------------------------------------------------------------------ runner
RES="$B/results"
rm -rf "$RES"
mkdir -p "$RES"
PMEM_ROOT="$(mktemp -d /var/tmp/morselkind-bench.XXXXXX)" || die "cannot create a directory in /var/tmp"
trap 'rm -rf "$PMEM_ROOT"' EXIT
FAILED=0
CAN_DROP=0
[[ $EUID -eq 0 && -w /proc/sys/vm/drop_caches ]] && CAN_DROP=1

drop_caches() {
    sync
    if ((CAN_DROP)); then echo 3 >/proc/sys/vm/drop_caches; fi
}

# run_one ID SIDE KEEP ARGS: one process; KEEP=1 records its figures under $RES.
run_one() {
    local id="$1" side="$2" keep="$3" args="$4" pre="$5" bin dir out err rc
    [[ $side == memkind ]] && bin="$THEIRS" || bin="$OURS"
    dir="$PMEM_ROOT/$id.$side"
    rm -rf "$dir" && mkdir -p "$dir"
    args="${args//@DIR@/$dir}"
    [[ $pre == *dropcaches* ]] && drop_caches
    # Warm twice the fill's amount of memory first (see run_warm in bench.c: free page
    # reporting; warming only as much left one huge fill in four at host-fault speed).
    [[ $pre == *warm* ]] && "$THEIRS" warm -T "$WARM" >/dev/null
    local limit=300
    [[ $id == churn ]] && limit=$(awk -v s="$CHURN_SECONDS" 'BEGIN { print int(s) + 120 }')
    local preload=()
    # The plain-jemalloc baseline: the memkind-side program calling malloc/free, on the
    # system's libjemalloc.
    [[ $pre == *jemalloc* && $side == memkind ]] && preload=(env LD_PRELOAD="$JEMALLOC")
    out="$(timeout "$limit" "${preload[@]}" "$bin" $args 2>"$RES/stderr")"
    rc=$?
    err="$(cat "$RES/stderr")"
    [[ -n $err ]] && sed "s/^/    [$side] /" "$RES/stderr" >&2
    if ((rc != 0)) || [[ -z $out ]]; then
        say "$id: $side run failed (exit $rc): $bin $args"
        echo "$side exit $rc: ${err:-no message}" >>"$RES/$id.failures"
        FAILED=1
        return 1
    fi
    if [[ -n $(find "$dir" -mindepth 1 -print -quit) ]]; then
        say "$id: $side left files in $dir"
        echo "$side left files in its PMEM directory" >>"$RES/$id.failures"
        FAILED=1
    fi
    rm -rf "$dir"
    ((keep)) || return 0
    local tok first=1
    for tok in $out; do
        if ((first)); then
            echo "$tok" >>"$RES/$id.$side.main"
            first=0
        else
            echo "${tok#*=}" >>"$RES/$id.$side.${tok%%=*}"
        fi
    done
    LAST="$(awk '{ print $1 }' <<<"$out")"
}

# stats FILE: "median min max n" of one figure per line.
stats() {
    [[ -s $1 ]] || { echo "- - - 0"; return; }
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR], NR }'
}

START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
START_TIME=$(date +%s)
n_work=0
for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r id _ <<<"$w"
    [[ -z $ONLY || $id =~ $ONLY ]] && n_work=$((n_work + 1))
done
say "$MODE run: $n_work workloads, $REPS reps (fills: $FILL_REPS), $WARMUP warm-up, churn ${CHURN_SECONDS}s, fills $FILL_H, $ITERS pairs/thread"
say "memkind: $THEIRS   ours: $OURS"
k=0
for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r id label unit better targs oargs extra pre reps <<<"$w"
    [[ -z $ONLY || $id =~ $ONLY ]] || continue
    k=$((k + 1))
    if [[ $pre == *jemalloc* && -z $JEMALLOC ]]; then
        say "[$k/$n_work] $id: SKIPPED: no libjemalloc.so.2 on this machine (bash tests/deps.sh installs it)"
        continue
    fi
    if [[ $pre == *jemalloc* && -n $BASELINE ]]; then
        say "[$k/$n_work] $id: skipped against a baseline build (the row compares with plain jemalloc)"
        continue
    fi
    # Against a baseline build, both sides run our workload (MORSELKIND_HUGE included).
    [[ -n $BASELINE ]] && targs="$oargs"
    wt="$targs" wo="$oargs"
    if [[ $id == churn ]]; then
        wt="${targs/-s $CHURN_SECONDS/-s $CHURN_WARM_SECONDS}"
        wo="${oargs/-s $CHURN_SECONDS/-s $CHURN_WARM_SECONDS}"
    fi
    say "[$k/$n_work] $id: $label"
    for ((i = 0; i < WARMUP; i++)); do
        run_one "$id" memkind 0 "$wt" "$pre"
        run_one "$id" ours 0 "$wo" "$pre"
    done
    line=""
    for ((i = 0; i < reps; i++)); do
        LAST="FAIL"; run_one "$id" memkind 1 "$targs" "$pre"; a="$LAST"
        LAST="FAIL"; run_one "$id" ours 1 "$oargs" "$pre"; o="$LAST"
        line+=" $a/$o"
    done
    say "    $unit (memkind/ours):$line"
done
END_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
ELAPSED=$(($(date +%s) - START_TIME))

# ------------------------------------------------------------------- table
fmt() {
    awk -v x="$1" 'BEGIN {
        if (x == "-") { print "-"; exit }
        a = x < 0 ? -x : x
        if (x == int(x) && a < 1e4) printf "%d", x
        else if (a >= 1e6) printf "%.2fM", x / 1e6
        else if (a >= 1e4) printf "%.1fk", x / 1e3
        else if (a >= 100) printf "%.0f", x
        else if (a >= 10) printf "%.1f", x
        else printf "%.2f", x
    }'
}
cell() { # FILE -> "median (min–max)"
    local m lo hi n
    read -r m lo hi n < <(stats "$1")
    ((n == 0)) && { echo "FAIL"; return; }
    echo "$(fmt "$m") ($(fmt "$lo")–$(fmt "$hi"))"
}
median() { local m _; read -r m _ < <(stats "$1"); echo "$m"; }
# speedup BETTER MEMKIND OURS: >1 means ours is better.
speedup() {
    awk -v b="$1" -v t="$2" -v o="$3" 'BEGIN {
        if (t == "-" || o == "-") { print "-"; exit }
        if (t == 0 && o == 0) { print "—"; exit }
        if (b == "lower") { if (o == 0) { print (t == 0 ? "1.00×" : "∞"); exit } r = t / o }
        else { if (t == 0) { print "∞"; exit } r = o / t }
        printf (r >= 100 ? "%.0f×" : "%.2f×"), r }'
}

TABLE="$B/table.md"
{
    echo "| workload | metric | memkind median (min–max) | ours median (min–max) | ours speedup (memkind/ours for ns and faults, ours/memkind for GiB/s and cycles; >1 = ours better) |"
    echo "|---|---|---|---|---|"
    for w in "${WORKLOADS[@]}"; do
        IFS='|' read -r id label unit better targs oargs extra pre reps <<<"$w"
        [[ -z $ONLY || $id =~ $ONLY ]] || continue
        # Rows the run skipped (no jemalloc here, or a baseline build) are left out, not FAIL.
        [[ $pre == *jemalloc* && (-z $JEMALLOC || -n $BASELINE) ]] && continue
        rows=("main:$unit:$better")
        IFS=',' read -r -a more <<<"$extra"
        rows+=("${more[@]}")
        for r in "${rows[@]}"; do
            [[ -n $r ]] || continue
            IFS=':' read -r field metric b <<<"$r"
            t="$RES/$id.memkind.$field" o="$RES/$id.ours.$field"
            note=""
            [[ -f $RES/$id.failures ]] && note=" **(failed runs: $(wc -l <"$RES/$id.failures"))**"
            echo "| $label$note | $metric ($b is better) | $(cell "$t") | $(cell "$o") | $(speedup "$b" "$(median "$t")" "$(median "$o")") |"
        done
    done
} >"$TABLE"

# Derived figures, from the medians above, with the issues' targets.
med() { median "$RES/$1"; }
calc() { awk "BEGIN { x = $1; printf \"%.2f\", x }" 2>/dev/null || echo "-"; }
have() { local f; for f in "$@"; do [[ -s $RES/$f ]] || return 1; done; }
check() { awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN {
    if (x == "-" || x == "") { print ""; exit }
    ok = (op == "<=" || op == "≤") ? (x <= y) : (x >= y); print (ok ? "✓" : "✗") }'; }
DERIVED="$B/derived.md"
{
    echo "| derived figure (from the medians) | memkind | ours | target for ours (issues 4, 7) |"
    echo "|---|---|---|---|"
    for kind in default pmem; do
        K=$(tr a-z A-Z <<<"$kind")
        if have "pairs-$kind-1t.memkind.main" "pairs-$kind-2t.memkind.main" "pairs-$kind-1t.ours.main" "pairs-$kind-2t.ours.main"; then
            tm=$(calc "2 * $(med pairs-$kind-1t.memkind.main) / $(med pairs-$kind-2t.memkind.main)")
            to=$(calc "2 * $(med pairs-$kind-1t.ours.main) / $(med pairs-$kind-2t.ours.main)")
            echo "| $K 2-thread scaling from separate runs (2 × ns₁ / ns₂ of the pairs rows; host noise between runs) | $tm | $to | |"
        fi
        if have "scaling-$kind.memkind.main" "scaling-$kind.ours.main"; then
            tm=$(med "scaling-$kind.memkind.main") to=$(med "scaling-$kind.ours.main")
            echo "| $K 2-thread scaling in one process (2-thread / 1-thread throughput, alternating rounds) | $tm | $to | ≥ 1.8 $(check "$to" ">=" 1.8) |"
        fi
    done
    # ratio_rows LABEL NUM DEN OP TARGET SIDES: NUM/DEN medians (files without the .side.field
    # suffix when SIDES is "both": each side over itself), on wall time and on CPU time.
    ratio_rows() {
        local label="$1" num="$2" den="$3" op="$4" target="$5" sides="$6" f tm to
        for f in main cpu; do
            local basis="wall time"
            [[ $f == cpu ]] && basis="CPU time"
            if [[ $sides == both ]]; then
                have "$num.memkind.$f" "$den.memkind.$f" "$num.ours.$f" "$den.ours.$f" || continue
                tm=$(calc "$(med $num.memkind.$f) / $(med $den.memkind.$f)")
                to=$(calc "$(med $num.ours.$f) / $(med $den.ours.$f)")
            else # NUM and DEN name their sides
                have "$num.$f" "$den.$f" || continue
                tm=""
                to=$(calc "$(med $num.$f) / $(med $den.$f)")
            fi
            echo "| $label ($basis) | $tm | $to | $op $target $(check "$to" "$op" "$target") |"
        done
    }
    if have pairs-pmem-1t-freenull.memkind.ratio pairs-pmem-1t-freenull.ours.ratio; then
        tm=$(med pairs-pmem-1t-freenull.memkind.ratio) to=$(med pairs-pmem-1t-freenull.ours.ratio)
        echo "| PMEM free(NULL, p) ns / free(kind, p) ns (median of the per-run ratios; both in one process, alternating) | $tm | $to | ≤ 1.10 $(check "$to" "<=" 1.10) |"
    fi
    ratio_rows "DEFAULT 1-thread ns: ours / memkind" pairs-default-1t.ours pairs-default-1t.memkind "≤" 1.10 one
    ratio_rows "DEFAULT 2-thread ns: ours / memkind" pairs-default-2t.ours pairs-default-2t.memkind "≤" 1.10 one
    ratio_rows "PMEM 1-thread ns: ours PMEM / memkind DEFAULT" pairs-pmem-1t.ours pairs-default-1t.memkind "≤" 1.25 one
    ratio_rows "PMEM 1-thread speedup: memkind PMEM ns / ours PMEM ns" pairs-pmem-1t.memkind pairs-pmem-1t.ours "≥" 4 one
    for t in 1 2; do
        ratio_rows "DEFAULT $t-thread ns: ours / plain jemalloc (issue 16)" jemalloc-default-${t}t.ours jemalloc-default-${t}t.memkind "≤" 1.10 one
        ratio_rows "PMEM $t-thread ns: ours / plain jemalloc (issue 16)" jemalloc-pmem-${t}t.ours jemalloc-pmem-${t}t.memkind "≤" 1.10 one
    done
    # Scale (issue 16): CPU ns per pair (µs per cycle for kchurn) at t threads over 1 thread.
    for kind in default pmem; do
        K=$(tr a-z A-Z <<<"$kind")
        for t in 2 8 64; do
            have "scale-$kind-${t}t.memkind.main" "scale-$kind-1t.memkind.main" "scale-$kind-${t}t.ours.main" "scale-$kind-1t.ours.main" || continue
            tm=$(calc "$(med scale-$kind-${t}t.memkind.main) / $(med scale-$kind-1t.memkind.main)")
            to=$(calc "$(med scale-$kind-${t}t.ours.main) / $(med scale-$kind-1t.ours.main)")
            target=""
            [[ $t == 64 ]] && target="≤ 1.3 $(check "$to" "<=" 1.3) (issue 16)"
            echo "| $K pairs, CPU time per pair: $t threads / 1 thread | $tm | $to | $target |"
        done
    done
    if have kchurn-64t.memkind.main kchurn-1t.memkind.main kchurn-64t.ours.main kchurn-1t.ours.main; then
        tm=$(calc "$(med kchurn-64t.memkind.main) / $(med kchurn-1t.memkind.main)")
        to=$(calc "$(med kchurn-64t.ours.main) / $(med kchurn-1t.ours.main)")
        echo "| PMEM kind churn, CPU time per cycle: 64 threads / 1 thread | $tm | $to | ≤ 1.3 $(check "$to" "<=" 1.3) (issue 16) |"
    fi
    # Nothing lost: summed over every measured run of the scale and kchurn rows.
    sum_of() { cat "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
    if compgen -G "$RES/scale-pmem-*.ours.live" >/dev/null; then
        tm=$(sum_of "$RES"/scale-pmem-*.memkind.live) to=$(sum_of "$RES"/scale-pmem-*.ours.live)
        echo "| scale, PMEM: bytes still allocated after all threads freed and exited, summed over all runs | $tm | $to | 0 $(check "$to" "<=" 0) |"
    fi
    if compgen -G "$RES/kchurn-*.ours.failed" >/dev/null; then
        tm=$(sum_of "$RES"/kchurn-*.memkind.failed) to=$(sum_of "$RES"/kchurn-*.ours.failed)
        echo "| kchurn: failed calls, summed over all runs (descriptors and files left fail a run) | $tm | $to | 0 $(check "$to" "<=" 0) |"
    fi
    if have churn.memkind.main churn.ours.main; then
        to=$(calc "$(med churn.ours.main) / $(med churn.memkind.main)")
        echo "| churn cycles: ours / memkind (wall time) | | $to | ≥ 3 $(check "$to" ">=" 3) |"
        if have churn.memkind.cpurate churn.ours.cpurate; then
            to=$(calc "$(med churn.ours.cpurate) / $(med churn.memkind.cpurate)")
            echo "| churn cycles per CPU second: ours / memkind (CPU time) | | $to | ≥ 3 $(check "$to" ">=" 3) |"
        fi
        for f in failed fdleak dirleft; do
            tm=$(awk '{ s += $1 } END { print s + 0 }' "$RES/churn.memkind.$f" 2>/dev/null)
            to=$(awk '{ s += $1 } END { print s + 0 }' "$RES/churn.ours.$f" 2>/dev/null)
            echo "| churn: $f, summed over all measured runs | $tm | $to | 0 $(check "$to" "<=" 0) |"
        done
    fi
    for p in 64M 64K; do
        if have "fill-huge-$p.memkind.main" "fill-huge-$p.ours.main"; then
            to=$(calc "$(med fill-huge-$p.ours.main) / $(med fill-huge-$p.memkind.main)")
            echo "| HUGE fill GiB/s ($p pieces) / memkind DEFAULT | | $to | ≥ 5 $(check "$to" ">=" 5) |"
            to=$(awk -v o="$(med fill-huge-$p.ours.faults)" -v t="$(med fill-huge-$p.memkind.faults)" 'BEGIN { printf "%.4f", o / t }')
            echo "| HUGE faults ($p pieces) / memkind DEFAULT faults | | $to | ≤ 0.01 $(check "$to" "<=" 0.01) |"
        fi
        if have "fill-default-$p.memkind.main" "fill-default-$p.ours.main"; then
            to=$(calc "$(med fill-default-$p.ours.main) / $(med fill-default-$p.memkind.main)")
            echo "| DEFAULT fill GiB/s ($p pieces): ours / memkind (compare with the min–max spread) | | $to | ≥ 1 within noise |"
        fi
    done
} >"$DERIVED"

LIBSUM="$(sha256sum "$B/lib/libmorselkind.so" | cut -c1-12)"
GITREV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo '+uncommitted changes')"
MKVER="$(dpkg-query -W -f='${Version}' libmemkind0 2>/dev/null || echo unknown)"
DROPNOTE="yes (sync; echo 3 > /proc/sys/vm/drop_caches before every run, warm-ups included)"
((CAN_DROP)) || DROPNOTE="NO: not root, only sync before each run"
{
    if [[ -n $BASELINE ]]; then
        echo "# morselkind vs morselkind at $BASE_REV: benchmark results"
        echo
        echo "The \"memkind\" columns below hold libmorselkind built at $BASE_REV (\`--baseline $BASELINE\`), run alternately with the current build."
    else
        echo "# morselkind vs memkind: benchmark results"
    fi
    echo
    echo "Command: \`bash benches/run.sh$( ((QUICK)) && echo ' --quick')${BASELINE:+ --baseline $BASELINE}${ONLY:+ --only '$ONLY'} --reps $REPS\` ($MODE mode), $(date -u '+%Y-%m-%d %H:%M UTC'), ${ELAPSED} s."
    echo
    echo "- Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); THP enabled: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled), defrag: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/defrag); /var/tmp on $(df -T /var/tmp | awk 'NR == 2 { print $2 }'). Shared machine: load average $START_LOAD at the start, $END_LOAD at the end."
    echo "- memkind $MKVER (system, \`gcc -O2 -lmemkind\`); morselkind $GITREV (libmorselkind.so sha256 $LIBSUM)."
    echo "- $REPS measured runs per side ($FILL_REPS for the fills) after $WARMUP warm-up run(s) per side, alternating memkind, ours, memkind, ours, ...; every run is a fresh process. Caches dropped before ext4 PMEM fills: $DROPNOTE. Before every fill run (both sides), \`bench warm\` touches and frees $WARM_H of plain memory (twice the fill): this VM reports memory free for ~2 s to the host (free page reporting), and without warming, whichever side ran after an idle moment paid a host fault per page (0.4–0.9 GiB/s for both libraries)."
    echo "- Pairs: $ITERS random-size malloc/free pairs per thread over a 1024-slot working set (each block tagged and checked); ns/pair/thread = wall time / pairs per thread. Churn: failed calls must be 0 and no descriptor or file may be left (checked by the program). Fills: malloc + memset of each piece timed; faults = getrusage ru_minflt delta."
    echo
    cat "$TABLE"
    echo
    cat "$DERIVED"
    if compgen -G "$RES/*.failures" >/dev/null; then
        echo
        echo "Failed runs:"
        for f in "$RES"/*.failures; do sed "s/^/- $(basename "$f" .failures): /" "$f"; done
    fi
} >"$OUT"

echo
cat "$OUT"
say "table written to $OUT"

# Our churn must not fail a single call.
if [[ -s $RES/churn.ours.failed ]] && awk '{ s += $1 } END { exit !(s > 0) }' "$RES/churn.ours.failed"; then
    say "our churn had failed calls"
    FAILED=1
fi
exit "$FAILED"
