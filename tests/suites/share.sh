#!/bin/bash
# Shared kinds between processes (morselkind.h, issue "share a kind's memory between
# processes"), for real, with two or three processes each:
# 1. every call and bad input (stale record, wrong size, closed or foreign descriptor, a window
#    taken in the attacher, read-write on a read-only export), growth after attach, read-only
#    attach (writes fault, mprotect refused): memfd, a file on ext4 (/var/tmp), a file on tmpfs;
# 2. fork: the exporter's child has a private copy, the attacher keeps seeing the exporter;
# 3. kill -9 of the attacher and of the exporter at random points (nothing changes for the
#    exporter; what the attacher was given stays readable);
# 4. another user (setpriv to nobody) cannot attach without the descriptor, where root,
#    allowed to open /proc/PID/fd/N, can (the control that shows the check means something);
# 5. the hand-off benchmark's checksums in every mode, and the examples' producer/consumer pair.
# No fd, mapping or file is left: the programs check their own, the suite checks the
# directories and /dev/shm.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=share
. "$ROOT/tests/lib.sh"
need_ours

shm_before=$(ls -A /dev/shm 2>/dev/null | sort)
build_ours "$WORK/share" -I "$ROOT/tests/c" "$ROOT/tests/c/share.c" || die "share.c does not build"

ext4_dir=$(mktemp -d /var/tmp/morselkind-share.XXXXXX)
tmpfs_dir=$(mktemp -d /dev/shm/morselkind-share.XXXXXX)
trap 'rm -rf "$ext4_dir" "$tmpfs_dir"; _lib_cleanup' EXIT
for dir in - "$ext4_dir" "$tmpfs_dir"; do
    where=${dir/#-/memfd}
    for mode in calls fork; do
        out=$(timeout 120 "$WORK/share" "$mode" "$dir" 2>&1) || { echo "$out"; die "share $mode in $where"; }
        say "$where: $out"
    done
    [[ "$dir" == - ]] || check_empty_dir "$dir"
done
for dir in - "$ext4_dir"; do
    out=$(timeout 300 "$WORK/share" kill "$dir" 20 2>&1) || { echo "$out"; die "share kill in ${dir/#-/memfd}"; }
    sed "s|^|$SUITE: ${dir/#-/memfd}: |" <<<"$out"
    [[ "$dir" == - ]] || check_empty_dir "$dir"
done

# 4. Another user. The program is copied where nobody can read it, with the library beside it.
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
    echo "$SUITE: SKIPPED part 4 (attach by another user): needs root and setpriv" >&2
else
    priv=$(mktemp -d /tmp/morselkind-share-nobody.XXXXXX)
    chmod 755 "$priv"
    cp "$WORK/share" "$REL/libmorselkind.so" "$priv/"
    ln -s libmorselkind.so "$priv/libmorselkind.so.0"
    chmod 755 "$priv"/*
    coproc HOLD { LD_LIBRARY_PATH="$priv" "$priv/share" hold -; }
    read -r -t 30 -u "${HOLD[0]}" pid fd record ptr || die "the holding exporter did not start"
    out=$(LD_LIBRARY_PATH="$priv" setpriv --reuid=65534 --regid=65534 --clear-groups "$priv/share" intrude "$pid" "$fd" "$record" "$ptr" 2>&1)
    rc=$?
    say "nobody: $out"
    [[ $rc -eq 0 ]] || { rm -rf "$priv"; die "another user attached (or failed oddly): exit $rc"; }
    out=$(LD_LIBRARY_PATH="$priv" "$priv/share" intrude "$pid" "$fd" "$record" "$ptr" 2>&1)
    rc=$?
    say "root (control): $out"
    exec {HOLD[1]}>&-
    wait "$HOLD_PID" 2>/dev/null
    rm -rf "$priv"
    [[ $rc -eq 3 ]] || die "the control failed: root could not attach through /proc/$pid/fd/$fd (exit $rc)"
fi

# 5. The hand-off benchmark's correctness, every mode (small packets), and the example pair.
gcc -O2 -I "$ROOT/include" -I "$ROOT/benches" "$ROOT/benches/handoff.c" -o "$WORK/handoff" \
    -L "$REL" -lmorselkind -Wl,-rpath,"$REL" || die "benches/handoff.c does not build"
for mode in morsel shm-inplace shm-copy socket memset memset-3; do
    out=$(timeout 60 "$WORK/handoff" "$mode" 4 40 2>&1) || { echo "$out"; die "handoff $mode"; }
    [[ "$mode" == memset* || "$out" == *"checked=46"* ]] || die "handoff $mode checked the wrong count: $out"
    say "handoff (4 MiB packets, checksums): $out"
done
out=$(make -s -C "$ROOT/examples" BUILD="$WORK/examples" run-shared 2>&1) || { echo "$out"; die "examples run-shared"; }
grep -q '^PASS$' <<<"$out" || die "the shared example pair did not pass: $out"
say "examples/shared_producer + shared_consumer: PASS"

shm_after=$(ls -A /dev/shm 2>/dev/null | grep -v "^$(basename "$tmpfs_dir")\$" | sort)
[[ "$shm_before" == "$shm_after" ]] || die "/dev/shm changed: $(diff <(echo "$shm_before") <(echo "$shm_after"))"
say "PASS: every call, bad input, growth, read-only, fork, kill -9 both ways, another user refused, hand-off checksums; nothing left in /dev/shm or the directories"
