#!/bin/bash
# libmorselcache against the reference libvmemcache 0.8, in one run: benches/vcache.c built
# against each, a cache-aside loop (random keys, values 256 B-64 KiB, LRU steady state, about
# two thirds hits) on pools of 256 MiB and 1 GiB, 1 and 2 threads. The two libraries alternate,
# REPS runs each; prints the median and the spread (min-max) of ops/s, the hit rate, the pool
# utilization (live value bytes / pool size) and the puts that failed while the value fit.
#   REPS=5 SECONDS_PER_RUN=2 DIR=/dev/shm bash benches/vcache.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF="${VMEMCACHE_REF:-$(cd "$ROOT/.." && pwd)/shared/ref/vmemcache}"
REL="$ROOT/target/release"
REPS="${REPS:-5}"
SECS="${SECONDS_PER_RUN:-2}"
DIR="${DIR:-$([[ -d /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}"
[[ -f "$REF/libvmemcache.so.0" ]] || { echo "vcache bench: no reference libvmemcache at $REF (set VMEMCACHE_REF)" >&2; exit 77; }
[[ -f "$REL/libmorselcache.so" ]] || (cd "$ROOT" && cargo build --release -p vcache-ffi)
ln -sfn libmorselcache.so "$REL/libmorselcache.so.0"
B=$(mktemp -d); trap 'rm -rf "$B"' EXIT
gcc -O2 -I "$REF" "$ROOT/benches/vcache.c" -L "$REF" -l:libvmemcache.so.0 -Wl,-rpath,"$REF" -lpthread -o "$B/theirs"
gcc -O2 -I "$ROOT/include" "$ROOT/benches/vcache.c" -L "$REL" -lmorselcache -Wl,-rpath,"$REL" -lpthread -o "$B/ours"

# values FIELD FILE: the field's values over the runs, sorted.
values() { awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' "$2" | sort -g; }
# median FIELD FILE, and stats FIELD FILE: "median (min-max)".
median() { values "$1" "$2" | awk '{ v[++n] = $1 } END { print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
stats() {
    values "$1" "$2" | awk -v f="$1" '{ v[++n] = $1 } END { m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        printf(f == "ops/s" ? "%.0f (%.0f-%.0f)" : "%.4f (%.4f-%.4f)", m, v[1], v[n]) }'
}

echo "vcache bench: pool in $DIR, $REPS runs of ${SECS}s per cell, alternating; median (min-max)"
printf '%-6s %-3s %-9s %-26s %-24s %-24s %s\n' pool thr library ops/s hit-rate utilization failed-puts
for mib in 256 1024; do
    for t in 1 2; do
        : >"$B/theirs.txt"; : >"$B/ours.txt"
        for _ in $(seq "$REPS"); do
            for lib in theirs ours; do "$B/$lib" "$DIR" "$mib" "$t" "$SECS" >>"$B/$lib.txt"; done
        done
        for lib in theirs ours; do
            printf '%-6s %-3s %-9s %-26s %-24s %-24s %s\n' "${mib}M" "$t" "$lib" "$(stats ops/s "$B/$lib.txt")" \
                "$(stats hit "$B/$lib.txt")" "$(stats util "$B/$lib.txt")" "$(awk '{s += $8} END {print s}' "$B/$lib.txt")"
        done
        echo "       ratio ours/theirs (medians): $(awk -v a="$(median ops/s "$B/ours.txt")" -v b="$(median ops/s "$B/theirs.txt")" 'BEGIN {printf "%.2f", a / b}')x ops/s"
    done
done
