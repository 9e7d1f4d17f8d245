#!/bin/bash
# MEMKIND_BACKGROUND_THREAD_LIMIT, MEMKIND_HEAP_MANAGER, MEMKIND_DEBUG and MORSELKIND_DEBUG, memkind
# 1.14 and morselkind side by side (tests/c/env_debug.c built against each), case by case:
#  - the exit status, stdout, and the MEMKIND_FATAL/MEMKIND_WARNING lines on stderr are the same;
#  - wrong MEMKIND_BACKGROUND_THREAD_LIMIT values (abc, -1, strtoul's corner cases) abort in the
#    library constructor (exit 134, "main" never printed) with memkind's FATAL line; right ones
#    (99999, 1, "", +1, -0) do not; a limit jemalloc refuses is a MEMKIND_ERROR with MEMKIND_DEBUG=1;
#  - with MEMKIND_BACKGROUND_THREAD_LIMIT=1 (and 2), once memkind_set_bg_threads(true) is called,
#    exactly that many jemalloc background threads run; without it, more than one;
#  - MEMKIND_HEAP_MANAGER=TBB without libtbbmalloc.so.2 aborts with memkind's FATAL line (checked
#    only when this host has none); with a stand-in libtbbmalloc.so.2 that lacks the pool
#    functions both abort alike; with one that has them (a small stub built here) both run on,
#    and ours says in one line that it keeps jemalloc; MEMKIND_HEAP_MANAGER=FOO changes nothing;
#  - MEMKIND_DEBUG=1 prints memkind's MEMKIND_ERROR for a PMEM kind in a missing directory, and
#    "Initializing kind memkind_hbw." on both sides; without it nothing is printed; another
#    value prints memkind's MEMKIND_WARNING once;
#  - MORSELKIND_DEBUG=1 makes ours (only) explain itself with MORSELKIND_INFO lines.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=env_debug
. "$ROOT/tests/lib.sh"
need_theirs
need_ours

SRC="$ROOT/tests/c/env_debug.c"
build_theirs "$WORK/theirs" "$SRC" || die "env_debug.c does not build against the system memkind"
build_ours "$WORK/ours" "$SRC" || die "env_debug.c does not build against morselkind"

# Stand-ins for Intel TBB's allocator: one without the pool API, one with a working stub of it.
mkdir -p "$WORK/tbb-empty" "$WORK/tbb-stub"
echo 'int morselkind_test_placeholder;' >"$WORK/empty.c"
"$CC" -shared -fPIC "$WORK/empty.c" -o "$WORK/tbb-empty/libtbbmalloc.so.2" || die "cannot build the empty libtbbmalloc stand-in"
cat >"$WORK/stub.c" <<'EOF'
/* The seven rml::pool_* functions memkind's TBB heap manager loads, over malloc. A header
 * before each block remembers its pool (pool_identify) and the block malloc gave. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
struct hdr { void *pool, *raw; size_t size; };
static void *put(void *pool, size_t size, size_t align) {
    if (align < 16) align = 16;
    char *raw = malloc(size + align + sizeof(struct hdr));
    if (!raw) return NULL;
    uintptr_t p = ((uintptr_t)raw + sizeof(struct hdr) + align - 1) & ~(uintptr_t)(align - 1);
    struct hdr *h = (struct hdr *)p - 1;
    h->pool = pool; h->raw = raw; h->size = size;
    return (void *)p;
}
static struct hdr *hdr(void *p) { return (struct hdr *)p - 1; }
void *_ZN3rml11pool_mallocEPNS_10MemoryPoolEm(void *pool, size_t size) { return put(pool, size, 16); }
void *_ZN3rml19pool_aligned_mallocEPNS_10MemoryPoolEmm(void *pool, size_t size, size_t align) { return put(pool, size, align); }
bool _ZN3rml9pool_freeEPNS_10MemoryPoolEPv(void *pool, void *p) { (void)pool; if (p) free(hdr(p)->raw); return true; }
void *_ZN3rml12pool_reallocEPNS_10MemoryPoolEPvm(void *pool, void *p, size_t size) {
    void *q = put(pool, size, 16);
    if (q && p) { memcpy(q, p, hdr(p)->size < size ? hdr(p)->size : size); free(hdr(p)->raw); }
    return q;
}
int _ZN3rml14pool_create_v1ElPKNS_13MemPoolPolicyEPPNS_10MemoryPoolE(intptr_t id, const void *policy, void **pool) {
    (void)id; (void)policy; *pool = malloc(1); return *pool ? 0 : -1;
}
bool _ZN3rml12pool_destroyEPNS_10MemoryPoolE(void *pool) { free(pool); return true; }
void *_ZN3rml13pool_identifyEPv(void *p) { return hdr(p)->pool; }
EOF
"$CC" -shared -fPIC -O1 "$WORK/stub.c" -o "$WORK/tbb-stub/libtbbmalloc.so.2" || die "cannot build the libtbbmalloc stub"

CLEAN=(env -u MEMKIND_DEBUG -u MORSELKIND_DEBUG -u MEMKIND_BACKGROUND_THREAD_LIMIT -u MEMKIND_HEAP_MANAGER
       -u MEMKIND_HBW_NODES -u MEMKIND_DAX_KMEM_NODES -u MEMKIND_HBW_THRESHOLD)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# run CASE SIDE ARGS...: the program under "${E[@]}" (VAR=VALUE words). Leaves $WORK/CASE.SIDE.out
# (stdout), .err (stderr) and .rc (exit status).
# The subshell's stderr is /dev/null so that its "Aborted" notes stay out of the log.
run() {
  local case=$1 side=$2; shift 2
  (
    "${CLEAN[@]}" ${E[@]+"${E[@]}"} timeout 60 "$WORK/$side" "$@" >"$WORK/$case.$side.out" 2>"$WORK/$case.$side.err"
    echo $? >"$WORK/$case.$side.rc"
  ) 2>/dev/null
}
rc() { cat "$WORK/$1.$2.rc"; }
# The comparable part of stderr: memkind's FATAL and WARNING lines.
stderr_key() { grep -E '^MEMKIND_(FATAL|WARNING):' "$WORK/$1.$2.err"; }
has_line() { grep -qxF -- "$3" "$WORK/$1.$2.err"; }

# both CASE ARGS...: runs both sides and checks exit status, stdout (without "~ " lines) and the
# FATAL/WARNING lines agree. Prints what ours said, indented.
both() {
  local case=$1; shift
  run "$case" theirs "$@"
  run "$case" ours "$@"
  local desc="$case [${E[*]:-no variables}]"
  echo "--- $desc: ours exited $(rc "$case" ours), memkind $(rc "$case" theirs)"
  sed 's/^/  stdout: /' "$WORK/$case.ours.out"
  sed 's/^/  stderr: /' "$WORK/$case.ours.err"
  if [ "$(rc "$case" ours)" = "$(rc "$case" theirs)" ]; then ok "$desc: same exit status $(rc "$case" ours)"
  else bad "$desc: exit status ours $(rc "$case" ours), memkind $(rc "$case" theirs)"; fi
  if diff <(grep -v '^~ ' "$WORK/$case.theirs.out") <(grep -v '^~ ' "$WORK/$case.ours.out") >"$WORK/$case.diff"; then
    ok "$desc: same stdout"
  else
    bad "$desc: stdout differs (< memkind, > ours):"; sed 's/^/    /' "$WORK/$case.diff"
  fi
  if diff <(stderr_key "$case" theirs) <(stderr_key "$case" ours) >"$WORK/$case.ediff"; then
    ok "$desc: same FATAL/WARNING lines ($(stderr_key "$case" ours | wc -l))"
  else
    bad "$desc: FATAL/WARNING lines differ (< memkind, > ours):"; sed 's/^/    /' "$WORK/$case.ediff"
  fi
}

# expect_fatal CASE LINE: both sides aborted (134) in the constructor ("main" never printed),
# with LINE on stderr.
expect_fatal() {
  local case=$1 line=$2 side
  for side in theirs ours; do
    if [ "$(rc "$case" $side)" = 134 ] && has_line "$case" $side "$line" && ! grep -q '^main$' "$WORK/$case.$side.out"; then
      ok "$case: $side aborted before main with: $line"
    else
      bad "$case: $side: exit $(rc "$case" $side), stdout '$(head -c 200 "$WORK/$case.$side.out")', expected an abort before main with: $line"
    fi
  done
}

# expect_ran CASE LAST: both sides exited 0 and their last stdout line is LAST.
expect_ran() {
  local case=$1 last=$2 side
  for side in theirs ours; do
    if [ "$(rc "$case" $side)" = 0 ] && [ "$(tail -1 "$WORK/$case.$side.out")" = "$last" ]; then ok "$case: $side ran: $last"
    else bad "$case: $side: exit $(rc "$case" $side), last line '$(tail -1 "$WORK/$case.$side.out")', expected '$last'"; fi
  done
}

# expect_quiet CASE: nothing at all on stderr, either side.
expect_quiet() {
  local side
  for side in theirs ours; do
    if [ -s "$WORK/$1.$side.err" ]; then bad "$1: $side printed on stderr: $(head -3 "$WORK/$1.$side.err")"
    else ok "$1: $side printed nothing on stderr"; fi
  done
}

# ---- MEMKIND_BACKGROUND_THREAD_LIMIT ----
n=0
for v in abc -1 1x "1 " "   " + 0x1 4294967296; do
  n=$((n + 1)); E=("MEMKIND_BACKGROUND_THREAD_LIMIT=$v")
  both "bg_bad$n" alloc
  expect_fatal "bg_bad$n" "MEMKIND_FATAL: Error: Wrong value of MEMKIND_BACKGROUND_THREAD_LIMIT=$v"
done
n=0
for v in 99999 1 0 4294967295 "" +1 -0 " 2"; do
  n=$((n + 1)); E=("MEMKIND_BACKGROUND_THREAD_LIMIT=$v")
  both "bg_good$n" alloc
  expect_ran "bg_good$n" "alloc ok"
  expect_quiet "bg_good$n"
done
# A limit jemalloc refuses (it allows at most 4 threads): memkind's error, only with MEMKIND_DEBUG=1.
for v in 99999 5; do
  E=("MEMKIND_BACKGROUND_THREAD_LIMIT=$v" MEMKIND_DEBUG=1)
  both "bg_refused_$v" alloc
  expect_ran "bg_refused_$v" "alloc ok"
  for side in theirs ours; do
    has_line "bg_refused_$v" $side "MEMKIND_ERROR: Error on setting threads limit" &&
      ok "bg_refused_$v: $side: MEMKIND_ERROR: Error on setting threads limit" ||
      bad "bg_refused_$v: $side did not print 'MEMKIND_ERROR: Error on setting threads limit'"
  done
done

# The limit holds once the threads run.
threads_of() { sed -n 's/^~ bg_threads=//p' "$WORK/$1.$2.out"; }
for v in 1 2; do
  E=("MEMKIND_BACKGROUND_THREAD_LIMIT=$v")
  both "bg_threads_$v" threads
  for side in theirs ours; do
    got=$(threads_of "bg_threads_$v" $side)
    [ "$got" = "$v" ] && ok "bg_threads_$v: $side: exactly $v jemalloc background thread(s) after memkind_set_bg_threads(true)" ||
      bad "bg_threads_$v: $side: '$got' background threads, expected $v"
  done
  echo "  (before memkind_set_bg_threads(true): memkind $(sed -n 's/^~ bg_threads_before=//p' "$WORK/bg_threads_$v.theirs.out"), ours $(sed -n 's/^~ bg_threads_before=//p' "$WORK/bg_threads_$v.ours.out"): libmorselkind's jemalloc starts with them on)"
done
E=()
both bg_threads_unset threads
for side in theirs ours; do
  got=$(threads_of bg_threads_unset $side)
  [ -n "$got" ] && [ "$got" -ge 2 ] && ok "bg_threads_unset: $side: $got background threads without a limit" ||
    bad "bg_threads_unset: $side: '$got' background threads without a limit, expected at least 2"
done

# ---- MEMKIND_HEAP_MANAGER ----
if ldconfig -p 2>/dev/null | grep -q 'libtbbmalloc\.so\.2 '; then
  echo "$SUITE: SKIPPING the 'TBB missing' cases: this host has libtbbmalloc.so.2 ($(ldconfig -p | grep 'libtbbmalloc\.so\.2 ' | head -1))"
else
  E=(MEMKIND_HEAP_MANAGER=TBB)
  both tbb_missing alloc
  expect_fatal tbb_missing "MEMKIND_FATAL: libtbbmalloc.so.2 not found."
  # TBB is looked at first; the thread limit is then never read.
  E=(MEMKIND_HEAP_MANAGER=TBB MEMKIND_BACKGROUND_THREAD_LIMIT=abc)
  both tbb_missing_bg_bad alloc
  expect_fatal tbb_missing_bg_bad "MEMKIND_FATAL: libtbbmalloc.so.2 not found."
fi
E=(MEMKIND_HEAP_MANAGER=TBB "LD_LIBRARY_PATH=$WORK/tbb-empty${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
both tbb_no_symbols alloc
expect_fatal tbb_no_symbols "MEMKIND_FATAL: Could not find symbols in libtbbmalloc.so.2."
E=(MEMKIND_HEAP_MANAGER=TBB MEMKIND_BACKGROUND_THREAD_LIMIT=abc "LD_LIBRARY_PATH=$WORK/tbb-stub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
both tbb_stub alloc
expect_ran tbb_stub "alloc ok"
want="MORSELKIND_WARNING: MEMKIND_HEAP_MANAGER=TBB: morselkind has no TBB heap manager; libtbbmalloc.so.2 is not used, jemalloc is."
if [ "$(cat "$WORK/tbb_stub.ours.err")" = "$want" ]; then ok "tbb_stub: ours said, in one line: $want"
else bad "tbb_stub: ours' stderr was '$(cat "$WORK/tbb_stub.ours.err")', expected '$want'"; fi
[ -s "$WORK/tbb_stub.theirs.err" ] && bad "tbb_stub: memkind printed: $(cat "$WORK/tbb_stub.theirs.err")" ||
  ok "tbb_stub: memkind ran on TBB (the stub) silently"
for e in "MEMKIND_HEAP_MANAGER=FOO" "MEMKIND_HEAP_MANAGER=tbb" "MEMKIND_HEAP_MANAGER=JEMALLOC"; do
  E=("$e")
  both "hm_${e#*=}" alloc
  expect_ran "hm_${e#*=}" "alloc ok"
  expect_quiet "hm_${e#*=}"
done
E=(MEMKIND_HEAP_MANAGER=FOO MEMKIND_BACKGROUND_THREAD_LIMIT=abc)
both hm_FOO_bg_bad alloc
expect_fatal hm_FOO_bg_bad "MEMKIND_FATAL: Error: Wrong value of MEMKIND_BACKGROUND_THREAD_LIMIT=abc"

# ---- MEMKIND_DEBUG ----
missing="$WORK/no-such-dir/pmem"
E=(MEMKIND_DEBUG=1)
both debug_pmem pmem "$missing"
expect_ran debug_pmem "pmem -13"
for side in theirs ours; do
  has_line debug_pmem $side "MEMKIND_ERROR: Could not create temporary file: errno=2." &&
    ok "debug_pmem: $side: MEMKIND_ERROR: Could not create temporary file: errno=2." ||
    bad "debug_pmem: $side: no 'MEMKIND_ERROR: Could not create temporary file: errno=2.' in: $(cat "$WORK/debug_pmem.$side.err")"
done
E=()
both quiet_pmem pmem "$missing"
expect_quiet quiet_pmem
E=(MEMKIND_DEBUG=1)
both debug_hbw hbw
for side in theirs ours; do
  has_line debug_hbw $side "MEMKIND_INFO: Initializing kind memkind_hbw." &&
    ok "debug_hbw: $side: MEMKIND_INFO: Initializing kind memkind_hbw." ||
    bad "debug_hbw: $side: no 'MEMKIND_INFO: Initializing kind memkind_hbw.' in: $(cat "$WORK/debug_hbw.$side.err")"
done
# Where memkind finds no HBW node and says so, ours says the same (this host's node 0).
theirs_hbw=$(grep '^MEMKIND_ERROR: No HBW Nodes' "$WORK/debug_hbw.theirs.err" | head -1)
if [ -n "$theirs_hbw" ]; then
  has_line debug_hbw ours "$theirs_hbw" && ok "debug_hbw: ours, as memkind: $theirs_hbw" ||
    bad "debug_hbw: ours did not print memkind's '$theirs_hbw': $(cat "$WORK/debug_hbw.ours.err")"
else
  echo "$SUITE: (memkind printed no 'No HBW Nodes' error on this host: HBW is available here)"
fi
E=()
both quiet_hbw hbw
expect_quiet quiet_hbw
E=(MEMKIND_DEBUG=yes)
both debug_unknown hbw
for side in theirs ours; do
  [ "$(grep -c '^MEMKIND_' "$WORK/debug_unknown.$side.err")" = 1 ] &&
    has_line debug_unknown $side 'MEMKIND_WARNING: debug option "yes" unknown; Try man memkind for available options.' &&
    ok "debug_unknown: $side printed memkind's one warning and nothing else" ||
    bad "debug_unknown: $side printed: $(cat "$WORK/debug_unknown.$side.err")"
done

# ---- MORSELKIND_DEBUG (ours only; memkind does not know it) ----
E=(MORSELKIND_DEBUG=1)
both morselkind_debug hbw
for want in "MORSELKIND_INFO: heap manager jemalloc; background threads: at most " "MORSELKIND_INFO: NUMA nodes " \
            "MORSELKIND_INFO: HBW nodes " "MORSELKIND_INFO: DAX KMEM nodes " "MORSELKIND_INFO: transparent huge pages: "; do
  grep -qF -- "$want" "$WORK/morselkind_debug.ours.err" && ok "morselkind_debug: ours: $(grep -F -- "$want" "$WORK/morselkind_debug.ours.err" | head -1)" ||
    bad "morselkind_debug: ours printed no '$want...' line"
done
if grep -q '^MEMKIND_ERROR: No HBW Nodes' "$WORK/debug_hbw.theirs.err"; then
  grep -q '^MORSELKIND_INFO: memkind_hbw is unavailable: ' "$WORK/morselkind_debug.ours.err" &&
    ok "morselkind_debug: ours: $(grep '^MORSELKIND_INFO: memkind_hbw is unavailable' "$WORK/morselkind_debug.ours.err")" ||
    bad "morselkind_debug: ours did not say why memkind_hbw is unavailable"
fi
grep -v '^MORSELKIND_INFO: ' "$WORK/morselkind_debug.ours.err" | grep -q . &&
  bad "morselkind_debug: ours printed other lines: $(grep -v '^MORSELKIND_INFO: ' "$WORK/morselkind_debug.ours.err")" ||
  ok "morselkind_debug: ours printed MORSELKIND_INFO lines only ($(wc -l <"$WORK/morselkind_debug.ours.err"))"
expect_quiet_theirs() { [ -s "$WORK/$1.theirs.err" ] && bad "$1: memkind printed: $(cat "$WORK/$1.theirs.err")" || ok "$1: memkind printed nothing"; }
expect_quiet_theirs morselkind_debug
E=(MORSELKIND_DEBUG=1)
both morselkind_debug_alloc alloc
for want in "MORSELKIND_INFO: memkind_default: no NUMA binding" "MORSELKIND_INFO: memkind_regular: MPOL_BIND over nodes "; do
  grep -qF -- "$want" "$WORK/morselkind_debug_alloc.ours.err" && ok "morselkind_debug_alloc: ours: $(grep -F -- "$want" "$WORK/morselkind_debug_alloc.ours.err" | head -1)" ||
    bad "morselkind_debug_alloc: ours printed no '$want...' line"
done
expect_quiet_theirs morselkind_debug_alloc
E=()
both quiet_alloc alloc
expect_quiet quiet_alloc

echo "$SUITE: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
