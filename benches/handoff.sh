#!/bin/bash
# The hand-off benchmark (benches/handoff.c): 32 MiB packets between two processes, two in
# flight, the consumer reading every byte (checksums compared), through a shared kind, POSIX
# shared memory filled in place, POSIX shared memory as a copy-in/copy-out channel, a Unix
# socket, and memset of the same bytes into warm memory (the ceiling: one buffer, and the
# producer's three in turn). The modes alternate,
# REPS runs each; prints the median GiB/s with the spread (min-max), and the ratios of the
# shared kind's median to the others'.
#   REPS=7 PACKET_MIB=32 PACKETS=64 bash benches/handoff.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REL="$ROOT/target/release"
REPS="${REPS:-7}"
MIB="${PACKET_MIB:-32}"
PACKETS="${PACKETS:-64}"
[[ -f "$REL/libmorselkind.so" ]] || (cd "$ROOT" && cargo build --release -p morselkind-ffi)
B=$(mktemp -d); trap 'rm -rf "$B"' EXIT
gcc -O2 -I "$ROOT/include" -I "$ROOT/benches" "$ROOT/benches/handoff.c" -o "$B/handoff" \
    -L "$REL" -lmorselkind -Wl,-rpath,"$REL"
MODES=(morsel shm-inplace shm-copy socket memset memset-3)
for _ in $(seq "$REPS"); do
    for m in "${MODES[@]}"; do
        "$B/handoff" "$m" "$MIB" "$PACKETS" | awk '{print $2}' >>"$B/$m" || { echo "handoff $m failed" >&2; exit 1; }
    done
done
median() { sort -g "$B/$1" | awk '{ v[++n] = $1 } END { print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
echo "hand-off: ${MIB} MiB packets, $PACKETS timed per run, 2 in flight, $REPS alternating runs; GiB/s median (min-max)"
for m in "${MODES[@]}"; do
    printf '%-12s %6.2f (%s-%s)\n' "$m" "$(median "$m")" "$(sort -g "$B/$m" | head -1)" "$(sort -g "$B/$m" | tail -1)"
done
ours=$(median morsel)
for m in memset memset-3 shm-inplace shm-copy socket; do
    awk -v a="$ours" -v b="$(median "$m")" -v m="$m" 'BEGIN { printf "shared kind / %-12s %.2fx\n", m, a / b }'
done
