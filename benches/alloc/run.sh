#!/usr/bin/env bash
# benches/alloc/run.sh: allocator stress programs under glibc, jemalloc, memkind's libmemtier and
# our libmorseltier (DRAM only, and DRAM:FS_DAX 1:4). See benches/alloc/README.md.
#
#   bash benches/alloc/run.sh [--reps N] [--only REGEX] [--quick] [--out FILE] [--warmup N]
#                             [--timeout S] [--lib PATH] [--base PATH] [--no-build] [--list]
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

REPS=""
ONLY=""
QUICK=0
OUT=""
WARMUP=""
TIMEOUT=300
LIB=""
BASE=""
BUILD=1
LIST=0

usage() {
    cat <<EOF
usage: bash benches/alloc/run.sh [options]
  --reps N       measured runs per program and configuration (default 5, --quick 3)
  --only REGEX   only the programs whose name matches REGEX (bash =~), e.g. 'small|churn'
  --quick        smaller sizes (about a tenth), 3 reps, no warm-up: a check that all works
  --out FILE     also write the Markdown report to FILE
  --warmup N     unmeasured runs of each configuration before a program's reps (default 1, --quick 0)
  --timeout S    a run still going after S seconds is killed and counted as FAIL (default 300)
  --lib PATH     our interposer (default: cargo build --release, then target/release/libmorseltier.so)
  --base PATH    also run another build of our interposer (e.g. main's) as base-dram and
                 base-fsdax, alternating with ours in the same rounds: a before/after comparison
  --no-build     do not run cargo build (use the library already built)
  --list         list the programs and configurations and exit
The report (Markdown) goes to stdout; progress and failures to stderr. Exit status 1 if any run
failed or a configuration was skipped for a missing library.
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --reps) REPS="${2:?--reps needs a number}"; shift 2 ;;
    --only) ONLY="${2:?--only needs a regex}"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="${2:?--out needs a file}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs a number}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
    --lib) LIB="${2:?--lib needs a path}"; shift 2 ;;
    --base) BASE="${2:?--base needs a path}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --list) LIST=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 64 ;;
    esac
done
[[ -z $REPS ]] && { ((QUICK)) && REPS=3 || REPS=5; }
[[ -z $WARMUP ]] && { ((QUICK)) && WARMUP=0 || WARMUP=1; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --reps must be a positive integer" >&2; exit 64; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "run.sh: --warmup must be an integer" >&2; exit 64; }
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --timeout must be a positive integer" >&2; exit 64; }

say() { echo "run.sh: $*" >&2; }

# ---- programs: name|source|full-size args|--quick args|what it models ----
PROGRAMS=(
    "larson|larson.c|-t 4|-t 4 -n 25|server simulation: 4 threads replace random slots (16-1000 B), hand their arrays to new threads (cross-thread frees)"
    "prodcons|prodcons.c|-p 2 -c 2|-p 2 -c 2 -n 150000|2 producers allocate messages (16 B-4 KiB), 2 consumers check and free them"
    "small-1t|smallloop.c|-t 1|-t 1 -n 500000|16/32/64 B malloc/free: pairs, batches of 1000 freed LIFO and FIFO; 1 thread"
    "small-2t|smallloop.c|-t 2|-t 2 -n 500000|the same, 2 threads at once (each its own blocks)"
    "churn|churn.c|-t 1|-t 1 -n 100000|mixed sizes 8 B-1 MiB with realloc grow/shrink, calloc, free; 2000 live strings"
    "exprtree|exprtree.c||-n 800|expression trees: build, print, tokenize, parse, differentiate, simplify (24 B nodes)"
    "containers|containers.cpp||-n 30000|std::map/unordered_map/vector/deque of std::string: index, sliding window, sorted log"
)

# ---- configurations: name|label|preload|tiers (@DIR@: a fresh directory under /var/tmp per run) ----
TIERS_DRAM="KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO"
TIERS_FSDAX="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:@DIR@,RATIO:4;POLICY:STATIC_RATIO"
CONFIGS=(
    "glibc|glibc malloc (no preload)|-|-"
    "jemalloc|system libjemalloc (LD_PRELOAD)|@JEMALLOC@|-"
    "memtier-dram|memkind libmemtier, DRAM only|@MEMTIER@|$TIERS_DRAM"
    "ours-dram|libmorseltier, DRAM only|@OURS@|$TIERS_DRAM"
    "memtier-fsdax|memkind libmemtier, DRAM:FS_DAX 1:4|@MEMTIER@|$TIERS_FSDAX"
    "ours-fsdax|libmorseltier, DRAM:FS_DAX 1:4|@OURS@|$TIERS_FSDAX"
)
if [[ -n $BASE ]]; then
    CONFIGS+=(
        "base-dram|libmorseltier from --base, DRAM only|@BASE@|$TIERS_DRAM"
        "base-fsdax|libmorseltier from --base, DRAM:FS_DAX 1:4|@BASE@|$TIERS_FSDAX"
    )
fi

if ((LIST)); then
    echo "programs:"
    for p in "${PROGRAMS[@]}"; do
        IFS='|' read -r name src full quick desc <<<"$p"
        printf '  %-11s %-15s full: %-12s quick: %-22s %s\n' "$name" "$src" "${full:-(defaults)}" "$quick" "$desc"
    done
    echo "configurations:"
    for c in "${CONFIGS[@]}"; do
        IFS='|' read -r name label pre tiers <<<"$c"
        printf '  %-14s %s%s\n' "$name" "$label" "$([[ $tiers != - ]] && echo "  MEMKIND_MEM_TIERS=\"$tiers\"")"
    done
    exit 0
fi

# ---- temporary files: everything under WORK, FS_DAX directories listed in DAXDIRS ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/allocbench.XXXXXX")" || { say "mktemp failed"; exit 1; }
DAXDIRS=()
cleanup() {
    local d
    for d in "${DAXDIRS[@]}"; do [[ -n $d && -d $d ]] && rm -rf -- "$d"; done
    [[ -n $WORK && -d $WORK ]] && rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP
new_daxdir() {
    # fills DAXDIR (not via $(...), so that DAXDIRS, which the trap cleans, is this shell's)
    DAXDIR="$(mktemp -d /var/tmp/allocbench-fsdax.XXXXXX)" || { say "mktemp -d under /var/tmp failed"; exit 1; }
    DAXDIRS+=("$DAXDIR")
}
drop_daxdir() {
    rm -rf -- "$1"
    local i
    for i in "${!DAXDIRS[@]}"; do [[ ${DAXDIRS[$i]} == "$1" ]] && unset 'DAXDIRS[i]'; done
}

# ---- libraries ----
JEMALLOC="$(ldconfig -p 2>/dev/null | awk '/libjemalloc\.so\.2 / { print $NF; exit }')"
MEMTIER="$(ldconfig -p 2>/dev/null | awk '/libmemtier\.so\.0 / { print $NF; exit }')"
[[ -z $MEMTIER ]] && MEMTIER="$(ldconfig -p 2>/dev/null | awk '/libmemtier\.so / { print $NF; exit }')"
if [[ -z $LIB ]]; then
    if ((BUILD)); then
        say "cargo build --release (in $ROOT)"
        if ! (cd "$ROOT" && cargo build --release >&2); then
            say "cargo build --release FAILED"
            exit 1
        fi
    fi
    LIB="${CARGO_TARGET_DIR:-$ROOT/target}/release/libmorseltier.so"
fi
OURS=""
if [[ -f $LIB ]]; then
    # a copy, so that a cargo build during the run cannot swap the library under it
    mkdir -p "$WORK/lib"
    cp -- "$LIB" "$WORK/lib/libmorseltier.so"
    OURS="$WORK/lib/libmorseltier.so"
fi
BASELIB=""
if [[ -n $BASE ]]; then
    [[ -f $BASE ]] || { say "--base: no $BASE"; exit 64; }
    mkdir -p "$WORK/base"
    cp -- "$BASE" "$WORK/base/libmorseltier.so"
    BASELIB="$WORK/base/libmorseltier.so"
fi
SKIPNOTES=()
[[ -z $JEMALLOC ]] && SKIPNOTES+=("jemalloc: SKIPPED, no libjemalloc.so.2 in ldconfig -p (apt-get install libjemalloc2, or bash tests/deps.sh)")
[[ -z $MEMTIER ]] && SKIPNOTES+=("memtier-dram, memtier-fsdax: SKIPPED, no libmemtier.so in ldconfig -p (apt-get install libmemkind0)")
[[ -z $OURS ]] && SKIPNOTES+=("ours-dram, ours-fsdax: SKIPPED, no $LIB (cargo build --release)")
for n in "${SKIPNOTES[@]}"; do say "*** $n ***"; done

preload_of() { # $1 = @JEMALLOC@ etc. -> path or empty (skipped)
    case "$1" in
    -) echo "-" ;;
    @JEMALLOC@) echo "$JEMALLOC" ;;
    @MEMTIER@) echo "$MEMTIER" ;;
    @OURS@) echo "$OURS" ;;
    @BASE@) echo "$BASELIB" ;;
    esac
}

# ---- build the programs ----
mkdir -p "$WORK/bin"
for p in "${PROGRAMS[@]}" "tiercheck|tiercheck.c|||"; do
    IFS='|' read -r name src _ <<<"$p"
    bin="$WORK/bin/${src%.*}"
    [[ -x $bin ]] && continue
    if [[ $src == *.cpp ]]; then
        cmd=(g++ -O2 -Wall -Wextra -o "$bin" "$HERE/$src" -lpthread)
    else
        cmd=(gcc -O2 -Wall -Wextra -o "$bin" "$HERE/$src" -lpthread)
    fi
    if ! "${cmd[@]}" >&2; then
        say "build FAILED: ${cmd[*]}"
        exit 1
    fi
done

HAVE_TIME=0
[[ -x /usr/bin/time ]] && HAVE_TIME=1
((HAVE_TIME)) || say "no /usr/bin/time: max RSS from the programs' own getrusage"

RESULTS="$WORK/results.tsv"   # prog cfg rep status seconds cpu rss_kb detail
: >"$RESULTS"
FAILLOG="$WORK/failures.txt"
: >"$FAILLOG"
NOTES="$WORK/notes.txt"
: >"$NOTES"

# run_one PROG_NAME BIN ARGS CFG_NAME PRELOAD TIERS REP -> appends a line to $RESULTS
run_one() {
    local name="$1" bin="$2" args="$3" cfg="$4" pre="$5" tiers="$6" rep_no="$7"
    local dir="" envs=(env -u LD_PRELOAD -u MEMKIND_MEM_TIERS -u MEMKIND_MEM_THRESHOLDS)
    if [[ $tiers == *@DIR@* ]]; then
        new_daxdir
        dir="$DAXDIR"
        tiers="${tiers//@DIR@/$dir}"
    fi
    [[ $pre != - ]] && envs+=("LD_PRELOAD=$pre")
    [[ $tiers != - ]] && envs+=("MEMKIND_MEM_TIERS=$tiers")
    local out="$WORK/out" err="$WORK/err" tim="$WORK/time" rep="$WORK/tier-report" rc
    rm -f "$out" "$err" "$tim" "$rep"
    # Ours with tiers: the interposer appends each tier's time-weighted live bytes (sampled
    # every millisecond, as `morselkind run` reports them) to this file at exit.
    if [[ $cfg == ours-fsdax || $cfg == base-fsdax ]]; then
        : >"$rep"
        envs+=("MORSELKIND_TIER_REPORT=$rep")
    fi
    # shellcheck disable=SC2086 # ARGS split into words on purpose
    if ((HAVE_TIME)); then
        (cd "$WORK" && ulimit -c 0 && exec /usr/bin/time -f 'maxrss_kb=%M' -o "$tim" \
            timeout -k 10 "$TIMEOUT" "${envs[@]}" "$bin" $args) >"$out" 2>"$err"
    else
        (cd "$WORK" && ulimit -c 0 && exec timeout -k 10 "$TIMEOUT" "${envs[@]}" "$bin" $args) >"$out" 2>"$err"
    fi
    rc=$?
    local line secs cpu rss status detail="" ratio="-"
    if [[ -s $rep ]]; then
        # FS_DAX / DRAM live bytes over the run: the tiers' byte·ms areas, summed over processes.
        ratio="$(awk '{ t = ""; a = 0; for (i = 1; i <= NF; i++) { if ($i ~ /^tier=/) t = substr($i, 6); if ($i ~ /^area=/) a = substr($i, 6) }
            A[t] += a } END { if (A["0"] > 0) printf "%.3f", A["1"] / A["0"]; else print "-" }' "$rep")"
    fi
    line="$(grep -m1 ' seconds=' "$out" 2>/dev/null)"
    secs="$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line")"
    cpu="$(sed -n 's/.* cpu=\([0-9.]*\).*/\1/p' <<<"$line")"
    rss=""
    ((HAVE_TIME)) && rss="$(sed -n 's/^maxrss_kb=\([0-9]*\)$/\1/p' "$tim" 2>/dev/null | tail -1)"
    [[ -z $rss ]] && rss="$(sed -n 's/.* maxrss_kb=\([0-9]*\).*/\1/p' <<<"$line")"
    if [[ $rc -eq 0 && -n $secs ]]; then
        status=OK
    else
        status=FAIL
        if [[ $rc -eq 124 || $rc -eq 137 ]]; then
            detail="timeout after ${TIMEOUT}s"
        elif [[ $rc -gt 128 ]]; then
            detail="killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
        elif grep -q '^CORRUPT' "$err" 2>/dev/null; then
            detail="corruption detected"
        elif [[ $rc -ne 0 ]]; then
            detail="exit status $rc"
        else
            detail="no seconds= line in the output"
        fi
        {
            echo "### $name under $cfg (run ${rep_no}): FAIL, $detail"
            echo '```'
            echo "${envs[*]:7} ${bin##*/} $args"
            tail -n 15 "$err" 2>/dev/null
            tail -n 3 "$out" 2>/dev/null
            echo '```'
        } >>"$FAILLOG"
        say "  FAIL: $name under $cfg (run $rep_no): $detail: $(grep -v '^Command ' "$err" 2>/dev/null | head -n 2 | tr '\n' ' ')"
        secs="" cpu=""
    fi
    if [[ -n $dir ]]; then
        local left
        left="$(find "$dir" -mindepth 1 2>/dev/null | wc -l)"
        if [[ $left -gt 0 ]]; then
            echo "- $name under $cfg (run $rep_no): $left file(s) left in the FS_DAX directory" >>"$NOTES"
        fi
        drop_daxdir "$dir"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$cfg" "$rep_no" "$status" "${secs:--}" "${cpu:--}" "${rss:--}" "${detail:--}" "$ratio" >>"$RESULTS"
}

# ---- select ----
SEL=()
for p in "${PROGRAMS[@]}"; do
    IFS='|' read -r name _ <<<"$p"
    [[ -z $ONLY || $name =~ $ONLY ]] && SEL+=("$p")
done
[[ ${#SEL[@]} -gt 0 ]] || { say "no program matches --only '$ONLY'"; exit 64; }
ACTIVE=()   # configurations that run
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r cname _ pre _ <<<"$c"
    path="$(preload_of "$pre")"
    [[ -n $path ]] && ACTIVE+=("$c")
done

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
say "work dir $WORK; reps $REPS, warm-up $WARMUP, $( ((QUICK)) && echo quick sizes || echo full sizes); load average $LOAD_START"

# ---- setup check: does every configuration run, load its library, and use FS_DAX where asked? ----
CHECKS="$WORK/checks.tsv"
: >"$CHECKS"
for c in "${ACTIVE[@]}"; do
    IFS='|' read -r cname _ pre tiers <<<"$c"
    path="$(preload_of "$pre")"
    new_daxdir
    d="$DAXDIR"
    t="${tiers//@DIR@/$d}"
    envs=(env -u LD_PRELOAD -u MEMKIND_MEM_TIERS -u MEMKIND_MEM_THRESHOLDS)
    [[ $path != - ]] && envs+=("LD_PRELOAD=$path")
    [[ $t != - ]] && envs+=("MEMKIND_MEM_TIERS=$t")
    line="$(cd "$WORK" && ulimit -c 0 && timeout -k 10 "$TIMEOUT" "${envs[@]}" "$WORK/bin/tiercheck" -d "$d" -n $( ((QUICK)) && echo 2000 || echo 8000) 2>"$WORK/err")"
    rc=$?
    share="$(sed -n 's/.* fsdax_share=\([0-9.]*\).*/\1/p' <<<"$line")"
    libs="$(sed -n 's/.* libs=\([^ ]*\).*/\1/p' <<<"$line")"
    if [[ $rc -ne 0 || -z $share ]]; then
        say "  setup check FAILED under $cname (exit $rc): $(head -n 3 "$WORK/err" | tr '\n' ' ')"
        {
            echo "### tiercheck under $cname: FAIL, exit status $rc"
            echo '```'
            head -n 15 "$WORK/err"
            echo '```'
        } >>"$FAILLOG"
        printf '%s\tFAIL\t-\t-\n' "$cname" >>"$CHECKS"
    else
        printf '%s\tOK\t%s\t%s\n' "$cname" "$share" "$libs" >>"$CHECKS"
    fi
    drop_daxdir "$d"
done

# ---- measure: per program, warm-up, then REPS rounds alternating the configurations ----
np=${#SEL[@]}
k=0
for p in "${SEL[@]}"; do
    k=$((k + 1))
    IFS='|' read -r name src full quick _ <<<"$p"
    bin="$WORK/bin/${src%.*}"
    args="$full"
    ((QUICK)) && args="$quick"
    say "[$k/$np] $name $args"
    for ((w = 1; w <= WARMUP; w++)); do
        for c in "${ACTIVE[@]}"; do
            IFS='|' read -r cname _ pre tiers <<<"$c"
            run_one "$name" "$bin" "$args" "$cname" "$(preload_of "$pre")" "$tiers" "w$w"
        done
    done
    for ((r = 1; r <= REPS; r++)); do
        for c in "${ACTIVE[@]}"; do
            IFS='|' read -r cname _ pre tiers <<<"$c"
            run_one "$name" "$bin" "$args" "$cname" "$(preload_of "$pre")" "$tiers" "$r"
        done
        say "    rep $r/$REPS: $(awk -F'\t' -v n="$name" -v r="$r" '$1 == n && $3 == r { printf "%s %s  ", $2, ($4 == "OK" ? $5 "s" : "FAIL") }' "$RESULTS")"
    done
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report ----
REPORT="$WORK/report.md"
progs_list="$(for p in "${SEL[@]}"; do IFS='|' read -r n _ <<<"$p"; printf '%s ' "$n"; done)"
cfgs_list="$(for c in "${CONFIGS[@]}"; do IFS='|' read -r n _ <<<"$c"; printf '%s ' "$n"; done)"
labels="$(for c in "${CONFIGS[@]}"; do IFS='|' read -r n l _ <<<"$c"; printf '%s=%s;' "$n" "$l"; done)"
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
[[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -v '^??')" ]] && rev="$rev (with uncommitted changes)"
{
    echo "# Allocator stress programs: glibc, jemalloc, memkind libmemtier, ours"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), morselkind $rev;" \
        "$( ((QUICK)) && echo '**--quick sizes**' || echo 'full sizes'), $REPS measured run(s) per cell after $WARMUP warm-up run(s)," \
        "configurations alternating within each round. Load average at start $LOAD_START, at end $LOAD_END."
    echo
    echo "Libraries: jemalloc ${JEMALLOC:-(none)}; memkind ${MEMTIER:-(none)}" \
        "($(dpkg-query -W -f '${Version}' libmemkind0 2>/dev/null || echo 'version unknown')); ours ${LIB}${BASE:+; base (before) ${BASE}}."
    echo "Tier specs: DRAM only \`MEMKIND_MEM_TIERS=\"$TIERS_DRAM\"\`; 1:4 \`MEMKIND_MEM_TIERS=\"$TIERS_FSDAX\"\`" \
        "with @DIR@ a fresh \`mktemp -d /var/tmp/allocbench-fsdax.XXXXXX\` per run (ext4 or whatever /var/tmp is: not DAX)."
    echo
    for n in "${SKIPNOTES[@]}"; do echo "**$n**"; echo; done
    awk -F'\t' -v progs="$progs_list" -v cfgs="$cfgs_list" -v labels="$labels" -v checks="$CHECKS" '
    function sortv(a, n,    i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
    function median(a, n) { sortv(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    function fmt(x) { return x >= 10 ? sprintf("%.2f", x) : sprintf("%.3f", x) }
    BEGIN {
        np = split(progs, P, " "); nc = split(cfgs, C, " ")
        nl = split(labels, L, ";"); for (i = 1; i <= nl; i++) { eq = index(L[i], "="); if (eq) LAB[substr(L[i], 1, eq - 1)] = substr(L[i], eq + 1) }
    }
    {
        key = $1 SUBSEP $2; runs[key]++
        if ($4 != "OK") { fails[key]++; if (!(key in why)) why[key] = $8; else if (index(why[key], $8) == 0) why[key] = why[key] ", " $8; next }
        if ($3 ~ /^w/) next
        n = ++ok[key]; S[key, n] = $5; if ($6 != "-") { nu = ++ncpu[key]; U[key, nu] = $6 }
        if ($7 != "-") { nr = ++nrss[key]; R[key, nr] = $7 }
        if (NF >= 9 && $9 != "-") { nq = ++nratio[key]; Q[key, nq] = $9 }
    }
    END {
        # medians
        for (pi = 1; pi <= np; pi++) for (ci = 1; ci <= nc; ci++) {
            key = P[pi] SUBSEP C[ci]
            if (ok[key] > 0 && !(key in fails)) {
                delete a; for (i = 1; i <= ok[key]; i++) a[i] = S[key, i]
                med[key] = median(a, ok[key]); lo[key] = a[1]; hi[key] = a[ok[key]]
                delete a; for (i = 1; i <= ncpu[key]; i++) a[i] = U[key, i]
                cpum[key] = ncpu[key] ? median(a, ncpu[key]) : ""
                delete a; for (i = 1; i <= nrss[key]; i++) a[i] = R[key, i]
                rssm[key] = nrss[key] ? median(a, nrss[key]) : ""
            }
        }
        print "## Per program"
        print ""
        print "Seconds: the timed part as the program reports it (wall clock, median of the runs, min–max). × glibc, × jemalloc: median over"
        print "the median of the same program under glibc / jemalloc (above 1 is slower). CPU s: user+system of the process (median)."
        print "Max RSS: peak resident set of the process (/usr/bin/time %M, median of the runs). FAIL: any run crashed, hung, detected"
        print "corruption or exited non-zero (details below); such a cell is left out of the geometric means."
        print ""
        print "| program | configuration | seconds (median) | min–max | × glibc | × jemalloc | CPU s | max RSS MiB | runs |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        for (pi = 1; pi <= np; pi++) for (ci = 1; ci <= nc; ci++) {
            key = P[pi] SUBSEP C[ci]
            if (!(key in runs)) { printf "| %s | %s | skipped | | | | | | 0 |\n", P[pi], C[ci]; continue }
            if (key in fails) {
                printf "| %s | %s | **FAIL** (%d of %d runs: %s) | | | | | | %d |\n", P[pi], C[ci], fails[key], runs[key], why[key], ok[key] + 0; continue
            }
            g = P[pi] SUBSEP "glibc"; j = P[pi] SUBSEP "jemalloc"
            rg = (g in med && med[g] > 0) ? sprintf("%.2f", med[key] / med[g]) : "–"
            rj = (j in med && med[j] > 0) ? sprintf("%.2f", med[key] / med[j]) : "–"
            printf "| %s | %s | %s | %s–%s | %s | %s | %s | %s | %d |\n", P[pi], C[ci], fmt(med[key]), fmt(lo[key]), fmt(hi[key]), rg, rj,
                cpum[key] == "" ? "–" : fmt(cpum[key]), rssm[key] == "" ? "–" : sprintf("%.1f", rssm[key] / 1024), ok[key]
        }
        # geometric means of the per-program ratios
        print ""
        print "## Geometric means"
        print ""
        print "Over the programs where both the configuration and the baseline completed every run (n of the programs run)."
        print ""
        print "| configuration | | geomean × glibc | geomean × jemalloc | n |"
        print "|---|---|---:|---:|---:|"
        for (ci = 1; ci <= nc; ci++) {
            c = C[ci]; sg = 0; ng = 0; sj = 0; nj = 0; missing = 0
            for (pi = 1; pi <= np; pi++) {
                key = P[pi] SUBSEP c
                if (!(key in med)) { if (key in runs) missing++; continue }
                g = P[pi] SUBSEP "glibc"; j = P[pi] SUBSEP "jemalloc"
                if (g in med) { sg += log(med[key] / med[g]); ng++ }
                if (j in med) { sj += log(med[key] / med[j]); nj++ }
            }
            GG[c] = ng ? exp(sg / ng) : ""; GJ[c] = nj ? exp(sj / nj) : ""; GN[c] = ng; GM[c] = missing
            printf "| %s | %s | %s | %s | %d of %d |\n", c, LAB[c], ng ? sprintf("%.3f", GG[c]) : "–", nj ? sprintf("%.3f", GJ[c]) : "–", ng, np
        }
        # goals (issue 16)
        sd = 0; nd = 0; dmiss = 0
        for (pi = 1; pi <= np; pi++) {
            ka = P[pi] SUBSEP "ours-fsdax"; kb = P[pi] SUBSEP "ours-dram"
            if (ka in med && kb in med) { sd += log(med[ka] / med[kb]); nd++ } else dmiss++
        }
        print ""
        print "## Goals (issue 16)"
        print ""
        print "| goal | measured | target | |"
        print "|---|---:|---:|:-:|"
        incomplete = (GM["ours-dram"] > 0 || !("ours-dram" in GN) || GN["ours-dram"] < np)
        goal("ours DRAM only vs jemalloc: geomean of time ratios", GJ["ours-dram"], "≤ 1.10", 1.10, 1, incomplete || GN["ours-dram"] == 0)
        goal("ours DRAM only vs glibc: geomean of time ratios (faster than glibc)", GG["ours-dram"], "< 1.00", 1.00, 0, incomplete)
        goal("ours DRAM:FS_DAX 1:4 vs ours DRAM only: geomean of time ratios", nd ? exp(sd / nd) : "", "≤ 1.30", 1.30, 1, dmiss > 0)
        # live-byte ratio achieved (ours with a 1:4 spec)
        print ""
        print "## Live-byte ratio achieved, DRAM:FS_DAX 1:4 (ours)"
        print ""
        print "FS_DAX / DRAM live bytes over each run: the ratio of the time-weighted live bytes (sampled every"
        print "millisecond by the interposer, MORSELKIND_TIER_REPORT, as morselkind run reports them), median of the runs, min–max."
        print "Target 4.00 within 10% (3.60–4.40)."
        print ""
        print "| program | configuration | ratio (median) | min–max | runs | |"
        print "|---|---|---:|---:|---:|:-:|"
        for (pi = 1; pi <= np; pi++) for (ci = 1; ci <= nc; ci++) {
            key = P[pi] SUBSEP C[ci]
            if (!(key in nratio)) continue
            delete a; for (i = 1; i <= nratio[key]; i++) a[i] = Q[key, i]
            m = median(a, nratio[key])
            printf "| %s | %s | %.2f | %.2f–%.2f | %d | %s |\n", P[pi], C[ci], m, a[1], a[nratio[key]], nratio[key], (m >= 3.6 && m <= 4.4) ? "✓" : "✗"
        }
        # setup check
        print ""
        print "## Setup check (tiercheck)"
        print ""
        print "One run of tiercheck per configuration: the allocator libraries mapped in the process, and the share of live bytes"
        print "(about 95 MiB of 16 B–64 KiB blocks; 24 MiB with --quick) in file mappings under the FS_DAX PATH. Target for 1:4: 0.800 ± 10%."
        print ""
        print "| configuration | libraries mapped | FS_DAX share of live bytes | |"
        print "|---|---|---:|:-:|"
        while ((getline line < checks) > 0) {
            split(line, f, "\t")
            if (f[2] != "OK") { printf "| %s | – | **FAIL** | ✗ |\n", f[1]; continue }
            want = (f[1] ~ /fsdax/) ? 0.8 : 0
            okc = (want == 0) ? (f[3] + 0 == 0) : (f[3] >= want * 0.9 && f[3] <= want * 1.1)
            printf "| %s | %s | %s | %s |\n", f[1], f[4], f[3], okc ? "✓" : "✗"
        }
    }
    function goal(what, v, tgt, lim, le, inc) {
        if (v == "") { printf "| %s | not measured | %s | ✗ |\n", what, tgt; return }
        okg = le ? (v <= lim) : (v < lim)
        printf "| %s | %.3f%s | %s | %s |\n", what, v, inc ? " (incomplete: some programs failed or were skipped)" : "", tgt, (okg && !inc) ? "✓" : "✗"
    }
    ' "$RESULTS"
    echo
    if [[ -s $NOTES ]]; then
        echo "## Notes"
        echo
        cat "$NOTES"
        echo
    fi
    echo "## Failures"
    echo
    if [[ -s $FAILLOG ]]; then cat "$FAILLOG"; else echo "None: every run exited 0 and its data checked."; fi
    echo
    echo "## Programs"
    echo
    echo "| program | arguments | models |"
    echo "|---|---|---|"
    for p in "${SEL[@]}"; do
        IFS='|' read -r name src full quick desc <<<"$p"
        a="$full"
        ((QUICK)) && a="$quick"
        echo "| $name | \`${src%.*} ${a}\` | $desc |"
    done
} >"$REPORT"

cat "$REPORT"
if [[ -n $OUT ]]; then
    cp -- "$REPORT" "$OUT" && say "report written to $OUT"
fi
status=0
grep -q $'\tFAIL\t' "$RESULTS" && status=1
grep -q $'\tFAIL\t' "$CHECKS" && status=1
[[ ${#SKIPNOTES[@]} -gt 0 ]] && status=1
exit $status
