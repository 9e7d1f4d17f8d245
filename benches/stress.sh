#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Copyright (c) morselkind authors
#
# benches/stress.sh - threads starting and allocating at once, under load, for a while.
#
#   bash benches/stress.sh [--seconds S] [--threads N] [--rounds R] [--memkind]
#
# Runs benches/stress.c (against libmorselkind; with --memkind, against the system memkind
# instead) as fresh processes, one after another, for S seconds (default 600), while two
# busy loops keep both CPUs loaded. Every process starts N threads (default 8) that allocate
# from DEFAULT, REGULAR and a PMEM kind made while they run, R rounds of 64 blocks each
# (default 20). Any NULL (memory is plentiful), crash or leftover file fails the run. Prints
# processes, allocations and NULLs at the end. The limits suite runs it for 20 s.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_WANTED=600 THREADS=8 ROUNDS=20 SIDE=ours
while (($#)); do
    case "$1" in
    --seconds) SECONDS_WANTED="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --memkind) SIDE=memkind ;;
    *) echo "stress.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
WORK="$(mktemp -d /var/tmp/morselkind-stress.XXXXXX)"
HOGS=()
cleanup() { kill "${HOGS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
BIN="$WORK/stress"
if [[ $SIDE == memkind ]]; then
    gcc -O2 -o "$BIN" "$ROOT/benches/stress.c" -lmemkind -lpthread || exit 1
else
    REL="$ROOT/target/release"
    [[ -f $REL/libmorselkind.so ]] || { echo "stress.sh: build first (cargo build --release)" >&2; exit 1; }
    ln -sfn libmorselkind.so "$REL/libmorselkind.so.0"
    gcc -O2 -I "$ROOT/include" -o "$BIN" "$ROOT/benches/stress.c" -L "$REL" -lmorselkind \
        -Wl,-rpath,"$REL" -lpthread || exit 1
fi
for _ in 1 2; do
    (while :; do :; done) &
    HOGS+=($!)
done
mkdir -p "$WORK/pmem"
procs=0 allocs=0 nulls=0 failed=0
end=$(($(date +%s) + SECONDS_WANTED))
while (($(date +%s) < end)); do
    out=$(timeout 120 "$BIN" "$WORK/pmem" "$THREADS" "$ROUNDS" 2>"$WORK/err")
    rc=$?
    procs=$((procs + 1))
    read -r _ a _ n <<<"${out//,/}"
    allocs=$((allocs + ${a:-0})) nulls=$((nulls + ${n:-0}))
    if ((rc != 0)); then
        failed=$((failed + 1))
        echo "stress.sh: process $procs: exit $rc: $(head -c 300 "$WORK/err")"
    fi
    if [[ -n $(find "$WORK/pmem" -mindepth 1 -print -quit) ]]; then
        failed=$((failed + 1))
        echo "stress.sh: process $procs left files behind"
        find "$WORK/pmem" -mindepth 1 -delete
    fi
done
echo "stress ($SIDE): $procs processes of $THREADS threads in ${SECONDS_WANTED} s under load: $allocs allocations, $nulls NULL, $failed failed processes"
((failed == 0 && nulls == 0))
