#!/bin/bash
# Acceptance for tiering: real programs from Debian's packages run under `morselkind run`
# (libmorseltier through LD_PRELOAD) with a 1:1 and a 1:4 DRAM:file tier split, and their
# output must be byte-identical to a plain run: grep over a large file, sort of a 200 MB file,
# /usr/bin/python3 building a large dict (with its own small-object allocator, and with
# PYTHONMALLOC=malloc so every object goes through malloc), gcc compiling a C file, sqlite3
# running a scripted workload, and a bash script that forks (pipelines, subshells). Then:
# - the interposer's glibc semantics (tests/c/tier_preload.c, plain vs tiered, same output);
# - start-up without configuration (one warning, DRAM) and with a malformed one (one message,
#   status 2, no core);
# - memkind's own `memtier` launcher and libmemtier on the same programs, reported for
#   comparison, never failed on (it aborts without KMEM DAX nodes and breaks programs that
#   malloc(0));
# - overhead: sort and python3 under `morselkind run` with a single DRAM tier against plain
#   glibc, median of several alternating runs, wall and CPU time (target ≤ 1.2×; the suite
#   fails only past 1.5× CPU, where noise cannot be the reason).
# Installs nothing: missing programs make it skip (bash tests/deps.sh installs them).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=tiering
. "$ROOT/tests/lib.sh"

M="$REL/morselkind"
LIB="$REL/libmorseltier.so"
[[ -x "$M" ]] || die "$M is missing: run cargo build --release"
[[ -f "$LIB" ]] || die "$LIB is missing: run cargo build --release"
for tool in grep sort gcc sqlite3 /usr/bin/python3 awk timeout; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (bash tests/deps.sh installs it)"
done
export LC_ALL=C
unset MEMKIND_MEM_TIERS MEMKIND_MEM_THRESHOLDS MORSELKIND_TIER_REPORT
start_all=$(date +%s)
failed=0
fail() { echo "$SUITE: FAIL: $*"; failed=$((failed + 1)); }

# ---- inputs ----
say "making the inputs (a 200 MB text file, a C file, a Python and an SQL script)"
awk 'BEGIN { srand(42); for (i = 0; i < 4600000; i++)
    printf "%08x %d line-%d %s\n", int(rand() * 4294967295), int(rand() * 1000000), i,
        substr("abcdefghijklmnopqrstuvwxyz0123456789", 1 + int(rand() * 20), 16) }' >"$WORK/big.txt"
size=$(stat -c %s "$WORK/big.txt")
[[ $size -ge 200000000 ]] || die "the input is only $size bytes"

cat >"$WORK/dict.py" <<'EOF'
d = {}
for i in range(600_000):
    d["key-%d" % i] = ("v" * (i % 50), i * 3, [i, i + 1])
print(len(d), sum(v[1] for v in d.values()), sum(len(v[0]) for v in d.values()))
for k in list(d)[::50_000]:
    print(k, d[k][1], d[k][2])
EOF

{
    printf '#include <stdio.h>\n#include <string.h>\n'
    printf 'struct rec { int id; double v; char name[32]; struct rec *next; };\n'
    for i in $(seq 0 249); do
        prev=$((i > 0 ? i - 1 : 0))
        cat <<EOF
static int f$i(struct rec *r, int n) {
    int acc = $i;
    for (int k = 0; k < n; k++) {
        switch ((k + acc) % 5) {
        case 0: acc += r[k].id * $((i % 7 + 1)); break;
        case 1: acc ^= (int)(r[k].v * $i.5); break;
        case 2: acc -= (int)strlen(r[k].name) + $i; break;
        case 3: if (r[k].next) acc += r[k].next->id; break;
        default: acc = acc * 31 + k;
        }
    }
    return acc + (n > $i ? f$prev(r, n - 1) : 0);
}
EOF
    done
    printf 'int main(void) { struct rec r[8] = {0}; int s = 0;\n'
    for i in $(seq 0 7 249); do printf '  s += f%d(r, 8);\n' "$i"; done
    printf '  printf("%%d\\n", s); return 0; }\n'
} >"$WORK/gen.c"

cat >"$WORK/work.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)
INSERT INTO t SELECT x, (x * 7919) % 1000,
    printf('row-%d-%d-%s', x, (x * 31) % 977, substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26)) FROM c;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT a, count(*), sum(id), max(length(b)) FROM t GROUP BY a ORDER BY a LIMIT 10;
SELECT count(*) FROM t WHERE b LIKE '%-5%';
UPDATE t SET b = b || '-x' WHERE id % 3 = 0;
SELECT sum(length(b)) FROM t;
CREATE TABLE u AS SELECT a, group_concat(id) AS g FROM t GROUP BY a;
SELECT sum(length(g)), count(*) FROM u;
SELECT t.a, count(*) FROM t JOIN u ON t.a = u.a WHERE t.id % 97 = 0 GROUP BY t.a ORDER BY 2 DESC, 1 LIMIT 5;
DELETE FROM t WHERE a < 500;
SELECT count(*), sum(a) FROM t;
SELECT b FROM t ORDER BY b DESC LIMIT 3;
EOF

# A shell forks for every pipeline and command substitution: the forked children must not
# share the file tier's pages with their parent.
cat >"$WORK/forks.sh" <<'EOF'
declare -A seen
for i in $(seq 1 3000); do seen[$i]=$((i * 7919 % 1000)); done
total=0
for i in $(seq 1 200); do
    v=$(echo "${seen[$i]}" | tr 0-9 a-j)
    total=$((total + ${#v}))
done
echo "total $total"
for k in "${!seen[@]}"; do echo "$k ${seen[$k]}"; done | sort -n -k2 -k1 | tail -3
( for i in 1 2 3; do echo "sub $i $(seq $i | paste -sd+)"; done ) | cat
EOF

PROGS=(grep sort python python-malloc gcc sqlite3 bash)
CMD_grep=(grep -E 'line-[0-9]*777 ' "$WORK/big.txt")
CMD_sort=(sort "$WORK/big.txt")
CMD_python=(/usr/bin/python3 "$WORK/dict.py")
CMD_python_malloc=(env PYTHONMALLOC=malloc /usr/bin/python3 "$WORK/dict.py")
CMD_gcc=(gcc -O2 -S -o - "$WORK/gen.c")
CMD_sqlite3=(sqlite3 :memory: ".read $WORK/work.sql")
CMD_bash=(bash "$WORK/forks.sh")

TIERDIR=$(new_pmem_dir ours)
THEIRDIR=$(new_pmem_dir theirs)
DRAM_ONLY="KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO"
SPEC_1_1="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$TIERDIR,RATIO:1;POLICY:STATIC_RATIO"
SPEC_1_4="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$TIERDIR,RATIO:4;POLICY:STATIC_RATIO"
THEIR_1_4="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$THEIRDIR,RATIO:4;POLICY:STATIC_RATIO"

# run CONFIG PROG: runs PROG's command under CONFIG; stdout to $WORK/PROG.CONFIG.out, stderr to
# .err; returns the command's status.
run() {
    local cfg=$1 p=$2
    local -n cmd="CMD_${p//-/_}"
    local out="$WORK/$p.$cfg.out" err="$WORK/$p.$cfg.err"
    case $cfg in
        plain) timeout 600 "${cmd[@]}" >"$out" 2>"$err" ;;
        dram) timeout 600 "$M" run --tiers "$DRAM_ONLY" -- "${cmd[@]}" >"$out" 2>"$err" ;;
        1:1) timeout 600 "$M" run --tiers "$SPEC_1_1" -- "${cmd[@]}" >"$out" 2>"$err" ;;
        1:4) timeout 600 "$M" run --tiers "$SPEC_1_4" -- "${cmd[@]}" >"$out" 2>"$err" ;;
        memtier) timeout 600 memtier "${cmd[@]}" >"$out" 2>"$err" ;;
        libmemtier) MEMKIND_MEM_TIERS="$THEIR_1_4" LD_PRELOAD=libmemtier.so.0 timeout 600 "${cmd[@]}" >"$out" 2>"$err" ;;
    esac
}

# ---- correctness: byte-identical output ----
say "programs under morselkind run, 1:1 and 1:4 DRAM:FS_DAX ($TIERDIR), against a plain run"
for p in "${PROGS[@]}"; do
    t0=$(date +%s.%N)
    run plain "$p"
    rc_plain=$?
    t1=$(date +%s.%N)
    [[ $rc_plain -eq 0 ]] || { cat "$WORK/$p.plain.err"; die "$p fails on its own (status $rc_plain)"; }
    [[ -s "$WORK/$p.plain.out" ]] || die "$p printed nothing"
    line="$(printf '%-14s plain %6.1fs %10s B' "$p" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(stat -c %s "$WORK/$p.plain.out")")"
    for cfg in 1:1 1:4; do
        t0=$(date +%s.%N)
        run "$cfg" "$p"
        rc=$?
        t1=$(date +%s.%N)
        if [[ $rc -ne $rc_plain ]]; then
            fail "$p under $cfg exits $rc (plain: $rc_plain)"
            tail -5 "$WORK/$p.$cfg.err"
            line+=" | $cfg: STATUS $rc"
        elif ! cmp -s "$WORK/$p.plain.out" "$WORK/$p.$cfg.out"; then
            fail "$p under $cfg: output differs from the plain run"
            line+=" | $cfg: DIFFERS"
        else
            share=$(awk '$1 == "1" && $2 ~ /^FS_DAX/ { for (i = 3; i <= NF; i++) if ($i ~ /%$/) { print $i; exit } }' "$WORK/$p.$cfg.err")
            line+="$(printf ' | %s same %6.1fs, FS_DAX held %6s of the live bytes' "$cfg" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$share")"
        fi
    done
    echo "  $line"
done
check_empty_dir "$TIERDIR"
say "what the tiers received, sqlite3 at 1:4 (morselkind run's own summary):"
sed 's/^/    /' "$WORK/sqlite3.1:4.err"

# ---- the interposer's semantics ----
say "malloc family semantics: tests/c/tier_preload.c plain and tiered"
"$CC" -std=gnu11 -O1 -g -Wall -Wextra -Werror "$ROOT/tests/c/tier_preload.c" -o "$WORK/tier_preload" -lpthread -ldl ||
    die "tier_preload does not build"
"$WORK/tier_preload" >"$WORK/tp.plain" 2>&1 || { cat "$WORK/tp.plain"; die "tier_preload fails on glibc"; }
for cfg in "$DRAM_ONLY" "$SPEC_1_1" "$SPEC_1_4"; do
    "$M" run -q --tiers "$cfg" -- "$WORK/tier_preload" >"$WORK/tp.tiered" 2>"$WORK/tp.err"
    rc=$?
    if [[ $rc -ne 0 ]] || ! cmp -s "$WORK/tp.plain" "$WORK/tp.tiered"; then
        diff "$WORK/tp.plain" "$WORK/tp.tiered" | head -20
        cat "$WORK/tp.err"
        fail "tier_preload under $cfg: status $rc or output differs"
    fi
done
say "  $(grep -vc '^failures' "$WORK/tp.plain") cases agree with glibc (DRAM, 1:1, 1:4)"
check_empty_dir "$TIERDIR"

# ---- start-up: no configuration, bad configuration ----
LD_PRELOAD="$LIB" "${CMD_grep[@]}" >"$WORK/noconf.out" 2>"$WORK/noconf.err"
rc=$?
if [[ $rc -ne 0 ]] || ! cmp -s "$WORK/noconf.out" "$WORK/grep.plain.out"; then
    fail "without MEMKIND_MEM_TIERS, grep exits $rc or prints something else"
elif [[ $(wc -l <"$WORK/noconf.err") -ne 1 ]] || ! grep -q '^MEMKIND_MEM_TIERING_LOG_ERROR: Missing MEMKIND_MEM_TIERS env var; libmorseltier runs on DRAM only' "$WORK/noconf.err"; then
    cat "$WORK/noconf.err"
    fail "without MEMKIND_MEM_TIERS, expected exactly one warning line"
else
    say "no configuration: runs on DRAM, one warning: $(cat "$WORK/noconf.err")"
fi
for bad in "KIND:DRAM,RATIO:0;POLICY:STATIC_RATIO" "KIND:DRAM,RATIO:1" "KIND:FS_DAX,RATIO:1;POLICY:STATIC_RATIO" \
    "KIND:FS_DAX,PATH:$WORK/missing,RATIO:1;POLICY:STATIC_RATIO" "KIND:PMEM,RATIO:1;POLICY:STATIC_RATIO" \
    "KIND:DRAM,RATIO:1;KIND:DRAM,RATIO:1;POLICY:DYNAMIC_THRESHOLD"; do
    (cd "$WORK" && ulimit -c unlimited 2>/dev/null; MEMKIND_MEM_TIERS="$bad" LD_PRELOAD="$LIB" /bin/true) 2>"$WORK/bad.err"
    rc=$?
    "$M" run --tiers "$bad" -- /bin/true 2>"$WORK/badrun.err"
    rc_run=$?
    if [[ $rc -ne 2 || $(wc -l <"$WORK/bad.err") -ne 1 || $rc_run -ne 2 || $(wc -l <"$WORK/badrun.err") -ne 1 ]]; then
        cat "$WORK/bad.err" "$WORK/badrun.err"
        fail "malformed \"$bad\": preload status $rc, run status $rc_run; want 2 and one line each"
    else
        say "malformed, status 2: $(cat "$WORK/bad.err")"
    fi
done
ls "$WORK"/core* >/dev/null 2>&1 && fail "a malformed configuration left a core dump"
# Control characters of a spec are escaped in the message (memkind prints them raw).
MEMKIND_MEM_TIERS=$'KIND:FS_DAX,PATH:/no\x1b[31mdir,RATIO:1;POLICY:STATIC_RATIO' LD_PRELOAD="$LIB" /bin/true 2>"$WORK/esc.err"
if grep -q $'\x1b' "$WORK/esc.err" || ! grep -qF '\x1b[31m' "$WORK/esc.err"; then
    cat -v "$WORK/esc.err"
    fail "a control character of the spec reached the terminal unescaped"
else
    say "control characters escaped: $(cat "$WORK/esc.err")"
fi

# ---- memkind's log lines ----
# MEMKIND_MEM_TIERING_LOG_LEVEL 0, 1, 2 and bad values: libmemtier.so and ours print the same
# lines in the same order (pointers would be normalised; 1.14 prints none) and exit alike.
if [[ -e /usr/lib/x86_64-linux-gnu/libmemtier.so.0 ]]; then
    LOGDIR="$WORK/logtier"
    mkdir -p "$LOGDIR"
    seq 2000 | sort -R --random-source=/dev/zero >"$WORK/small.txt"
    log_specs=("KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO"
        "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$LOGDIR,RATIO:4;POLICY:STATIC_RATIO"
        "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$LOGDIR,RATIO:1;POLICY:DYNAMIC_THRESHOLD")
    log_progs=("/bin/true" "sort $WORK/small.txt" "/usr/bin/python3 -c print(sum(range(10**5)))" "ls /")
    same=0
    for spec in "${log_specs[@]}"; do
        for level in 0 1 2 banana 3 "1 " -1; do
            for prog in "${log_progs[@]}"; do
                for side in theirs ours; do
                    lib=$LIB
                    [[ $side == theirs ]] && lib=/usr/lib/x86_64-linux-gnu/libmemtier.so.0
                    # (Through sh, whose own stderr takes the shell's note of an abort.)
                    sh -c 'MEMKIND_MEM_TIERING_LOG_LEVEL="$1" MEMKIND_MEM_TIERS="$2" LD_PRELOAD="$3" $4 >"$5.out" 2>"$5.err"
                        echo "exit=$?" >>"$5.err"' _ "$level" "$spec" "$lib" "$prog" "$WORK/log.$side" 2>/dev/null
                    sed -i 's/0x[0-9a-f]\+/PTR/g' "$WORK/log.$side.err"
                done
                if cmp -s "$WORK/log.theirs.err" "$WORK/log.ours.err" && cmp -s "$WORK/log.theirs.out" "$WORK/log.ours.out"; then
                    same=$((same + 1))
                else
                    diff "$WORK/log.theirs.err" "$WORK/log.ours.err" | head -10
                    fail "log level \"$level\", $prog, $spec: our lines or status differ from libmemtier's"
                fi
            done
        done
    done
    check_empty_dir "$LOGDIR"
    say "log lines: $same runs print what libmemtier.so prints, line for line, with the same status (levels 0, 1, 2 and 4 bad values, 3 specs, 4 programs)"
    say "  e.g. level 2: $(MEMKIND_MEM_TIERING_LOG_LEVEL=2 MEMKIND_MEM_TIERS="${log_specs[1]}" LD_PRELOAD="$LIB" /bin/true 2>&1 | tr '\n' '|')"
else
    say "memkind's libmemtier is not installed: log lines not compared (apt-get install libmemkind-dev)"
fi
MEMKIND_MEM_THRESHOLDS="INIT_VAL:64" "$M" run --tiers "$SPEC_1_1" -- /bin/true 2>"$WORK/badrun.err"
[[ $? -eq 2 ]] || fail "run accepted MEMKIND_MEM_THRESHOLDS with STATIC_RATIO"
"$M" run -- "${CMD_grep[@]}" >"$WORK/default.out" 2>"$WORK/default.err" || fail "morselkind run with the default tiers failed"
cmp -s "$WORK/default.out" "$WORK/grep.plain.out" || fail "morselkind run with the default tiers: grep output differs"
grep -q 'from the default' "$WORK/default.err" || fail "morselkind run without --tiers did not use its default"
say "default tiers: $(head -1 "$WORK/default.err" | sed 's/^morselkind run: //')"
# The README's quick start: its report judges live bytes, and they hold the 1:1 target within 10%.
quick=$(sed -n 's/^cargo build --release && //p' "$ROOT/README.md" | head -1)
[[ $quick == "target/release/morselkind run -- "* ]] || die "README's quick start command not found"
(cd "$ROOT" && eval "$quick") >"$WORK/quick.out" 2>"$WORK/quick.err" || fail "README's quick start fails: $(tail -2 "$WORK/quick.err")"
ratio=$(sed -n 's/.*live-byte ratio over the run 1.00 : \([0-9.]*\) (target 1.00 : 1.00).*/\1/p' "$WORK/quick.err")
if [[ -z $ratio ]] || ! awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9 && r <= 1.1) }'; then
    cat "$WORK/quick.err"
    fail "README's quick start: live-byte ratio ${ratio:-missing}, not within 10% of 1:1"
else
    say "README's quick start: live-byte ratio 1.00 : $ratio (target 1:1)"
fi
"$M" run -q -- sh -c 'exit 7'
[[ $? -eq 7 ]] || fail "morselkind run does not exit with the program's status"
# (Through sh, which reports the status without bash's "Terminated" line.)
rc=$(sh -c '"$1" run -q -- sh -c "kill -TERM \$\$"; echo $?' _ "$M" 2>/dev/null)
[[ $rc -eq 143 ]] || fail "morselkind run does not die of the program's signal (status $rc)"

# ---- memkind's memtier, for comparison ----
if command -v memtier >/dev/null && [[ -e /usr/lib/x86_64-linux-gnu/libmemtier.so.0 ]]; then
    say "memkind 1.14 on the same programs (for comparison only):"
    for p in "${PROGS[@]}"; do
        line="$(printf '%-14s' "$p")"
        for cfg in memtier libmemtier; do
            # (stderr off: bash would announce memkind's crashes; the status says it.)
            run "$cfg" "$p" 2>/dev/null
            rc=$?
            if [[ $rc -eq 0 ]] && cmp -s "$WORK/$p.plain.out" "$WORK/$p.$cfg.out"; then
                line+=" | $cfg: same output"
            elif [[ $rc -eq 0 ]]; then
                line+=" | $cfg: DIFFERENT output"
            else
                why=$(grep -v '^$' "$WORK/$p.$cfg.err" | tail -1 | cut -c1-60)
                [[ $rc -gt 128 ]] && why="killed by $(kill -l $((rc - 128)))${why:+: $why}"
                line+=" | $cfg: status $rc ($why)"
            fi
        done
        echo "  $line"
    done
    say "  (memtier: the launcher, which wants KMEM DAX nodes; libmemtier: LD_PRELOAD with MEMKIND_MEM_TIERS=$THEIR_1_4)"
else
    say "memkind's memtier is not installed: no comparison (apt-get install libmemkind-progs)"
fi

# ---- overhead ----
# times LABEL CONFIG PROG: appends "wall cpu" of one run to $WORK/times.LABEL.
times() {
    local label=$1 cfg=$2 p=$3 TIMEFORMAT='%R %U %S'
    { time run "$cfg" "$p"; } 2>&1 | awk '{ printf "%s %.3f\n", $1, $2 + $3 }' >>"$WORK/times.$label"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
say "overhead: a single DRAM tier under morselkind run against plain glibc (median of alternating runs)"
worst=0
for spec in "sort 3" "python 5"; do
    read -r p n <<<"$spec"
    for i in $(seq "$n"); do
        times "$p.plain" plain "$p"
        times "$p.dram" dram "$p"
    done
    cmp -s "$WORK/$p.plain.out" "$WORK/$p.dram.out" || fail "$p under a DRAM tier: output differs"
    wp=$(awk '{ print $1 }' "$WORK/times.$p.plain" | median)
    wd=$(awk '{ print $1 }' "$WORK/times.$p.dram" | median)
    cp=$(awk '{ print $2 }' "$WORK/times.$p.plain" | median)
    cd=$(awk '{ print $2 }' "$WORK/times.$p.dram" | median)
    rw=$(awk -v a="$wd" -v b="$wp" 'BEGIN { printf "%.2f", a / b }')
    rc_=$(awk -v a="$cd" -v b="$cp" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v r="$rc_" 'BEGIN { print (r <= 1.2) ? "within the 1.2x target" : "ABOVE the 1.2x target" }')
    printf '  %-7s n=%d  wall: glibc %6.2fs  morselkind %6.2fs  ratio %sx | cpu: glibc %6.2fs  morselkind %6.2fs  ratio %sx  (%s)\n' \
        "$p" "$n" "$wp" "$wd" "$rw" "$cp" "$cd" "$rc_" "$verdict"
    worst=$(awk -v a="$worst" -v b="$rc_" 'BEGIN { print (b > a) ? b : a }')
done
awk -v r="$worst" 'BEGIN { exit !(r > 1.5) }' && fail "overhead: $worst x CPU, far above the 1.2x target"

say "took $(($(date +%s) - start_all))s"
[[ $failed -eq 0 ]] || die "$failed check(s) failed"
say "all programs gave identical output under tiering"
