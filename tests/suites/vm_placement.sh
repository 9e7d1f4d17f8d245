#!/bin/bash
# Real placement on the emulated heterogeneous machine (issues 5 and 7, the VM parts), memkind 1.14
# and morselkind side by side in ONE boot of tests/vm (node0 = CPUs, node1 = CPU-less HBM-like by
# HMAT, node2 = KMEM DAX node, ext4 -o dax at /mnt/pmem), with no environment overrides:
#  1. tests/vm/vm_placement.c, built against each library, prints for every static kind
#     memkind_check_available's code, memkind_get_capacity and the node(s) of the pages of a
#     touched 4 MiB allocation (move_pages). Both libraries must print the same lines, and
#     DAX_KMEM -> node2; HBW, HIGHEST_BANDWIDTH_LOCAL -> node1; REGULAR, LOWEST_LATENCY_LOCAL,
#     HIGHEST_CAPACITY -> node0. `morselkind info --hbw-nodes` / `--dax-kmem-nodes` must print
#     what Debian's memkind-hbw-nodes / memkind-auto-dax-kmem-nodes print (stdout and status).
#  2. memkind_check_dax_path("/mnt/pmem") is 0 for both; a PMEM kind there works with ours
#     (malloc, write, read back, destroy, directory left empty).
#  3. Filling 512 MiB through a PMEM kind on /mnt/pmem, in 64 MiB and in 64 KiB pieces: ours must
#     take <= 1/20 of memkind's page faults (getrusage over every malloc + memset, ru_minflt +
#     ru_majflt: a DAX fault that allocates a file block is counted as major, so ru_minflt alone
#     can hide a fault per page). The ideal is 256, one per 2 MiB.
# Exit: 0 passed; 77 (loudly) only when the VM cannot be built or booted here; else failed.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=vm_placement
. "$ROOT/tests/lib.sh"
need_theirs
need_ours

MiB=$((1 << 20))
FILL_TOTAL=$((512 * MiB))
PIECES="$((64 * MiB)) $((64 * 1024))"
RATIO=20

# --- the VM and the test programs --------------------------------------------------------------
need_vm
if ! dpkg -s libnuma-dev >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "libnuma-dev is missing and we are not root to install it (the VM's test program needs it)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnuma-dev >/dev/null 2>&1 ||
    skip "cannot install libnuma-dev with apt-get (no network to Debian's archive?)"
fi

V="$WORK/vm"                       # everything the guest gets; kept small (the guest's files live in RAM)
mkdir -p "$V/lib"
strip -o "$V/lib/libmorselkind.so.0" "$REL/libmorselkind.so" || die "strip libmorselkind.so"
SRC="$ROOT/tests/vm/vm_placement.c"
"$CC" "${CFLAGS_COMMON[@]}" -O2 "$SRC" -o "$V/theirs" -lmemkind -lnuma ||
  die "vm_placement.c does not build against the system memkind"
"$CC" "${CFLAGS_COMMON[@]}" -O2 -I "$ROOT/include" "$SRC" -o "$V/ours" -L "$REL" -lmorselkind \
  -Wl,-rpath,"$V/lib" -lnuma || die "vm_placement.c does not build against morselkind"
[[ $(ldd "$V/ours") == *"=> $V/lib/libmorselkind.so.0 "* ]] || die "the ours build does not load $V/lib/libmorselkind.so.0"
[[ $(ldd "$V/theirs") == *"libmemkind.so.0 => /"* ]] || die "the theirs build does not load the system libmemkind"

FILES=(--file theirs --file ours --file lib --file guest.sh)
CLI="$REL/morselkind"
if [ -x "$CLI" ]; then
  strip -o "$V/morselkind" "$CLI" || die "strip $CLI"
  FILES+=(--file morselkind)
else
  echo "$SUITE: SKIPPING the 'morselkind info' node-list comparison: $CLI does not exist (yet)" >&2
  echo "$SUITE: SKIPPING the 'morselkind info' node-list comparison: $CLI does not exist (yet)"
fi
for t in memkind-hbw-nodes memkind-auto-dax-kmem-nodes; do
  [ -x "/usr/bin/$t" ] && FILES+=(--file "/usr/bin/$t")
done

# The guest script: every program's output is tagged "TAG|line", its exit status "TAG|rc=N".
# No MEMKIND_*/MORSELKIND_* variable is set in the guest (run-in-vm.sh exports only --env ones).
cat >"$V/guest.sh" <<EOF
for v in \$(env | grep -E '^(MEMKIND|MORSELKIND)_' | cut -d= -f1); do unset "\$v"; done
run() { tag=\$1; shift; "\$@" >/tmp/out 2>&1; rc=\$?; sed "s/^/\$tag|/" /tmp/out; echo "\$tag|rc=\$rc"; }
for side in theirs ours; do run kinds.\$side ./\$side kinds; done
for side in theirs ours; do run dax.\$side ./\$side dax /mnt/pmem; done
for piece in $PIECES; do
  # sync: ext4 reuses the blocks a previous run freed only once the journal has committed; without
  # it the next run fills a nearly full, fragmented filesystem (blocks not 2 MiB-aligned on disk).
  for side in theirs ours; do sync; run fill.\$side.\$piece ./\$side fill /mnt/pmem \$piece $FILL_TOTAL; done
done
for t in memkind-hbw-nodes memkind-auto-dax-kmem-nodes; do
  [ -x /usr/bin/\$t ] && run tool.\$t /usr/bin/\$t
done
if [ -x ./morselkind ]; then
  run cli.hbw ./morselkind info --hbw-nodes
  run cli.dax ./morselkind info --dax-kmem-nodes
  run cli.info ./morselkind info
fi
exit 0
EOF

say "booting the VM (one boot for everything) ..."
start=$(date +%s)
run_vm "$V" "${FILES[@]}" /bin/sh guest.sh
guest=$VM_OUT rc=$VM_RC
took=$(( $(date +%s) - start ))
grep -a -E '^\[hetmem\] (kernel|node[0-9]:|mounted)|^\[host\]' "$WORK/vm.stderr"
say "boot + guest run took ${took}s (guest script status $rc)"

# --- checks ------------------------------------------------------------------------------------
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
[ "$rc" = 0 ] || bad "the guest script exited with status $rc (it always exits 0)"
tagged() { printf '%s\n' "$guest" | sed -n "s/^$1|//p"; }        # the output of TAG
status() { tagged "$1" | sed -n 's/^rc=//p' | tail -1; }
# kind_node SIDE KIND: the node= answer of that kind
kind_node() { tagged "kinds.$1" | sed -n "s/^$2 .* node=//p"; }

# 1. Kinds.
for side in theirs ours; do
  tagged "kinds.$side" >"$WORK/kinds.$side"
  echo "--- $side (memkind_check_available, memkind_get_capacity, node of the pages):"
  sed 's/^/  /' "$WORK/kinds.$side"
done
for side in theirs ours; do
  [ "$(status "kinds.$side")" = 0 ] && ok "kinds: $side exited 0" ||
    bad "kinds: $side exited with status '$(status "kinds.$side")'"
done
grep -v '^~ ' "$WORK/kinds.theirs" >"$WORK/kinds.theirs.cmp"
grep -v '^~ ' "$WORK/kinds.ours" >"$WORK/kinds.ours.cmp"
n=$(grep -c '^MEMKIND_' "$WORK/kinds.theirs.cmp")
if [ "$n" -ne 19 ]; then
  bad "kinds: memkind's build printed $n kind lines, expected 19"
elif diff -u "$WORK/kinds.theirs.cmp" "$WORK/kinds.ours.cmp" >"$WORK/kinds.diff"; then
  ok "kinds: all $n kinds give the same check code, capacity and node with both libraries"
else
  bad "kinds: the libraries differ (- memkind, + ours):"
  sed 's/^/    /' "$WORK/kinds.diff"
fi
for kv in DAX_KMEM=2 HBW=1 HIGHEST_BANDWIDTH_LOCAL=1 REGULAR=0 LOWEST_LATENCY_LOCAL=0 HIGHEST_CAPACITY=0; do
  k=MEMKIND_${kv%=*} want=${kv#*=}
  for side in theirs ours; do
    got=$(kind_node "$side" "$k")
    [ "$got" = "$want" ] && ok "$k on node $want ($side)" || bad "$k: $side placed it on '${got:-<nothing>}', expected node $want"
  done
done

# Node lists: morselkind info vs memkind's tools.
if [ -x "$V/morselkind" ]; then
  for pair in "memkind-hbw-nodes cli.hbw --hbw-nodes" "memkind-auto-dax-kmem-nodes cli.dax --dax-kmem-nodes"; do
    set -- $pair
    if [ ! -x "/usr/bin/$1" ]; then
      echo "$SUITE: SKIPPING the $1 comparison: /usr/bin/$1 is missing (Debian's libmemkind-progs)"
      continue
    fi
    want=$(tagged "tool.$1" | grep -v '^rc=') want_rc=$(status "tool.$1")
    got=$(tagged "$2" | grep -v '^rc=') got_rc=$(status "$2")
    if [ "$want" = "$got" ] && [ "$want_rc" = "$got_rc" ]; then
      ok "morselkind info $3 = $1: '$got' (status $got_rc)"
    else
      bad "morselkind info $3 printed '$got' (status $got_rc), $1 printed '$want' (status $want_rc)"
    fi
  done
  echo "--- morselkind info in the guest:"
  tagged cli.info | sed 's/^/  /'
fi

# 2. DAX.
for side in theirs ours; do
  echo "--- dax $side:"; tagged "dax.$side" | sed 's/^/  /'
  c=$(tagged "dax.$side" | sed -n 's/^check_dax_path=//p')
  [ "$c" = 0 ] && ok "memkind_check_dax_path(/mnt/pmem) = 0 ($side)" ||
    bad "memkind_check_dax_path(/mnt/pmem) = '${c:-<nothing>}' ($side), expected 0"
done
p=$(tagged dax.ours | sed -n 's/^pmem=//p')
[ "$p" = ok ] && [ "$(status dax.ours)" = 0 ] && ok "PMEM kind on /mnt/pmem works with ours" ||
  bad "PMEM kind on /mnt/pmem with ours: pmem='${p:-<nothing>}', status $(status dax.ours)"

# 3. Fault counts.
echo "--- filling $((FILL_TOTAL / MiB)) MiB through a PMEM kind on /mnt/pmem (ext4 -o dax):"
for piece in $PIECES; do
  for side in theirs ours; do
    line=$(tagged "fill.$side.$piece" | grep '^fill piece=')
    echo "  $side: ${line:-<no result>}"
    tagged "fill.$side.$piece" | grep -v '^fill piece=\|^rc=0$' | sed 's/^/    /'
  done
  if [ $((piece % MiB)) = 0 ]; then label="$((piece / MiB)) MiB pieces"; else label="$((piece / 1024)) KiB pieces"; fi
  # Page faults = ru_minflt + ru_majflt: a DAX fault that allocates a file block counts as major.
  t=$(tagged "fill.theirs.$piece" | sed -n 's/^fill .* faults=\([0-9]*\) memset_faults=.* majflt=\([0-9]*\) .*/\1 + \2/p')
  o=$(tagged "fill.ours.$piece" | sed -n 's/^fill .* faults=\([0-9]*\) memset_faults=.* majflt=\([0-9]*\) .*/\1 + \2/p')
  if [ -z "$t" ] || [ -z "$o" ] || [ "$(status "fill.theirs.$piece")" != 0 ] || [ "$(status "fill.ours.$piece")" != 0 ]; then
    bad "fill in $label: a run failed (memkind status $(status "fill.theirs.$piece"), ours $(status "fill.ours.$piece"))"
    continue
  fi
  tt=$(( t )) ot=$(( o ))
  ratio=$(awk -v t="$tt" -v o="$ot" 'BEGIN { if (o == 0) print "inf"; else printf "%.1f", t / o }')
  msg="fill in $label: memkind $tt faults (minor + major: $t), ours $ot ($o), ideal $((FILL_TOTAL / (2 * MiB))): memkind/ours = $ratio, need >= $RATIO"
  [ $((ot * RATIO)) -le "$tt" ] && ok "$msg" || bad "$msg"
done

echo "$SUITE: $pass passed, $fail failed (boot + guest ${took}s)"
[ "$fail" -eq 0 ]
