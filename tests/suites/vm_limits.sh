#!/bin/bash
# Exhaustion inside the emulated machine of tests/vm, where the kernel's settings are ours to
# change (never the host's): vm.overcommit_memory=2 (strict accounting: every writable private
# mapping is charged in full, MAP_NORESERVE or not), and fork on the ext4 -o dax filesystem.
# tests/c/limits.c, built against memkind 1.14 and against morselkind, runs in ONE boot:
#  1. with overcommit 2, DEFAULT and a PMEM kind on /mnt/pmem take 1 MiB blocks until NULL: ours
#     must answer NULL with ENOMEM (no signal) and fill at least 90% of what memkind fills;
#  2. with overcommit 2, fork of a process holding a PMEM kind on DAX: the child writes every
#     block it inherited, allocates, and the parent's data stays its own (no signal).
# memkind's outcome is shown beside ours. Exit: 0 passed; 77 (loudly) only when the VM cannot
# be built or booted here; else failed.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=vm_limits
. "$ROOT/tests/lib.sh"
need_theirs
need_ours

need_vm

V="$WORK/vm"
mkdir -p "$V/lib"
strip -o "$V/lib/libmorselkind.so.0" "$REL/libmorselkind.so" || die "strip libmorselkind.so"
SRC="$ROOT/tests/c/limits.c"
"$CC" "${CFLAGS_COMMON[@]}" -O2 "$SRC" -o "$V/theirs" -lmemkind || die "limits.c does not build against memkind"
"$CC" "${CFLAGS_COMMON[@]}" -O2 -I "$ROOT/include" "$SRC" -o "$V/ours" -L "$REL" -lmorselkind \
  -Wl,-rpath,"$V/lib" || die "limits.c does not build against morselkind"

cat >"$V/guest.sh" <<'EOF'
for v in $(env | grep -E '^(MEMKIND|MORSELKIND)_' | cut -d= -f1); do unset "$v"; done
# Output goes to the DAX filesystem: with memory exhausted, /tmp (in RAM) may take nothing.
run() { tag=$1; shift; "$@" >/mnt/pmem/out 2>&1; rc=$?; sed "s/^/$tag|/" /mnt/pmem/out; echo "$tag|rc=$rc"; }
echo 2 >/proc/sys/vm/overcommit_memory
echo "env|$(grep -E 'CommitLimit|Committed_AS' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
mkdir -p /mnt/pmem/limits
for kind in DEFAULT PMEM; do
  for side in theirs ours; do run "fill.$kind.$side" "./$side" vlimit /mnt/pmem/limits "$kind"; done
done
for side in theirs ours; do sync; run "fork.$side" "./$side" fork /mnt/pmem/limits 16; done
run left ls -A /mnt/pmem/limits
echo 0 >/proc/sys/vm/overcommit_memory
exit 0
EOF

say "booting the VM ..."
run_vm "$V" --file theirs --file ours --file lib --file guest.sh /bin/sh guest.sh
guest=$VM_OUT
tagged() { printf '%s\n' "$guest" | sed -n "s/^$1|//p"; }
status() { tagged "$1" | sed -n 's/^rc=//p' | tail -1; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
say "guest: $(tagged env)"
for kind in DEFAULT PMEM; do
  t=$(tagged "fill.$kind.theirs" | head -1) o=$(tagged "fill.$kind.ours" | head -1)
  say "overcommit 2, $kind: memkind: $t (status $(status "fill.$kind.theirs"))"
  say "overcommit 2, $kind: ours:    $o (status $(status "fill.$kind.ours"))"
  [ "$(status "fill.$kind.ours")" = 0 ] && ok "$kind: NULL with ENOMEM at the end, errno untouched by every success" ||
    bad "$kind: ours exited with status $(status "fill.$kind.ours")"
  tm=$(echo "$t" | grep -o '[0-9]* MiB' | grep -o '[0-9]*') om=$(echo "$o" | grep -o '[0-9]* MiB' | grep -o '[0-9]*')
  if [ -n "$tm" ] && [ -n "$om" ] && [ $((om * 10)) -ge $((tm * 9)) ]; then
    ok "$kind: ours filled $om MiB, memkind $tm MiB (at least 90%)"
  elif [ -z "$tm" ]; then
    [ -n "$om" ] && [ "$om" -gt 0 ] && ok "$kind: ours filled $om MiB (memkind gave no figure)" || bad "$kind: no figure"
  else
    bad "$kind: ours filled ${om:-?} MiB, below 90% of memkind's $tm MiB"
  fi
done
for side in theirs ours; do say "fork on DAX, $side: $(tagged "fork.$side" | tr '\n' ' ')"; done
[ "$(status fork.ours)" = 0 ] && ok "fork on DAX under overcommit 2: the child wrote what it inherited, the parent's data is its own" ||
  bad "fork on DAX: ours exited with status $(status fork.ours)"
[ -z "$(tagged left | grep -v '^rc=')" ] && ok "nothing left in /mnt/pmem/limits" || bad "left in /mnt/pmem/limits: $(tagged left)"
say "$pass passed, $fail failed"
[ "$fail" = 0 ]
