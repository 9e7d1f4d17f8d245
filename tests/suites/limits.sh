#!/bin/bash
# Exhaustion is an answer, never a signal: full filesystems (tmpfs and ext4 loop mounts of a
# few MiB), two kinds in one directory, ulimit -f, -n and -v, fork on tmpfs and ext4 (with and
# without room for the child's copy), fork+exec latency, and the tiering interposer on a full
# tier. Every case runs against morselkind and against the system memkind 1.14; memkind's
# outcome is printed beside ours, not judged. Ours fails the suite on any signal, a wrong
# answer, an fd left open or a file left behind.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=limits
. "$ROOT/tests/lib.sh"
need_theirs
need_ours
[[ $(id -u) == 0 ]] || skip "needs root to mount small tmpfs and ext4 filesystems"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is missing (apt-get install e2fsprogs)"

MNT="$WORK/mnt"
mkdir -p "$MNT"
cleanup() {
    local m
    for m in $(awk -v w="$MNT/" 'index($2, w) == 1 {print $2}' /proc/mounts); do umount -l "$m"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# mount_tmpfs NAME SIZE: a fresh tmpfs; prints its path.
mount_tmpfs() {
    local d="$MNT/$1"
    mkdir -p "$d"
    mount -t tmpfs -o "size=$2" tmpfs "$d" || skip "cannot mount a tmpfs here"
    echo "$d"
}

# mount_ext4 NAME SIZE: a fresh ext4 loop mount; prints its path.
mount_ext4() {
    local d="$MNT/$1" img="$WORK/$1.img"
    mkdir -p "$d"
    truncate -s "$2" "$img"
    mkfs.ext4 -q -F "$img" || skip "mkfs.ext4 failed"
    mount -o loop "$img" "$d" || skip "cannot mount a loop device here"
    rm -rf "$d/lost+found"
    echo "$d"
}

# leave_free DIR KIB: a filler file takes all but KIB KiB of the filesystem.
leave_free() {
    local avail
    avail=$(df -k --output=avail "$1" | tail -1)
    fallocate -l $(((avail - $2) * 1024)) "$1/.filler"
}

build_theirs "$WORK/limits.theirs" "$ROOT/tests/c/limits.c" || die "limits.c does not build against memkind"
build_ours "$WORK/limits.ours" "$ROOT/tests/c/limits.c" || die "limits.c does not build against morselkind"

failures=0 cases=0
signame() { kill -l $(($1 - 128)) 2>/dev/null || echo "?"; }

# run_case LABEL DIR [ULIMIT-ARGS --] ARGS...: runs both builds with ARGS (DIR is where the
# kinds live, checked empty afterwards); ours must exit 0 without a signal and leave no fd or
# file; memkind's outcome is shown.
run_case() {
    local label="$1" dir="$2"; shift 2
    local limits=()
    if [[ "${1:-}" == ulimit ]]; then
        shift
        while [[ $1 != -- ]]; do limits+=("$1"); shift; done
        shift
    fi
    local side rc out
    cases=$((cases + 1))
    for side in theirs ours; do
        out="$WORK/$label.$side"
        (
            [[ ${#limits[@]} -gt 0 ]] && ulimit "${limits[@]}"
            exec timeout 300 "$WORK/limits.$side" "$@"
        ) >"$out.out" 2>"$out.err"
        rc=$?
        local what="exit $rc"
        ((rc > 128 && rc != 255)) && what="killed by SIG$(signame "$rc")"
        ((rc == 124)) && what="timed out"
        printf '%s: %-28s %-10s %s | %s\n' "$SUITE" "$label" "${side/theirs/memkind}" "$what" \
            "$(tr '\n' ';' <"$out.out" | cut -c1-150)"
        if [[ $side == ours ]]; then
            [[ -s "$out.err" ]] && sed 's/^/    stderr: /' "$out.err" | head -3
            local left
            left=$(find "$dir" -mindepth 1 -not -name .filler | head -3)
            if ((rc != 0)); then
                echo "$SUITE: FAIL: $label: ours $what"
                failures=$((failures + 1))
            elif [[ -n $left ]]; then
                echo "$SUITE: FAIL: $label: left behind in $dir: $left"
                failures=$((failures + 1))
            fi
        fi
        find "$dir" -mindepth 1 -not -name .filler -delete 2>/dev/null
    done
}

# --- full filesystems ---
T32=$(mount_tmpfs t32 32m)
run_case tmpfs-two-kinds "$T32" twokinds "$T32"
leave_free "$T32" 256
run_case tmpfs-256k-free-4k "$T32" fill "$T32" 4096
run_case tmpfs-256k-free-1m "$T32" fill "$T32" 1048576
rm -f "$T32/.filler"

E64=$(mount_ext4 e64 64m)
run_case ext4-two-kinds "$E64" twokinds "$E64"
leave_free "$E64" 256
run_case ext4-256k-free-4k "$E64" fill "$E64" 4096
rm -f "$E64/.filler"

# --- RLIMIT_FSIZE (ulimit -f counts 1 KiB blocks): memkind dies with SIGXFSZ here ---
run_case ext4-ulimit-f-16m "$E64" ulimit -f 16384 -- fill "$E64" 1048576
DISK=$(new_pmem_dir fsize)
run_case disk-ulimit-f-100m "$DISK" ulimit -f 102400 -- fill "$DISK" 1048576

# --- RLIMIT_NOFILE: creation fails with an error code, nothing leaks, it works again ---
run_case ulimit-n-12 "$DISK" ulimit -n 12 -- fdlimit "$DISK"

# --- fork: the child writes every block it inherited, written or only allocated ---
run_case fork-tmpfs "$T32" fork "$T32" 8
run_case fork-ext4 "$E64" fork "$E64" 16
run_case fork-tmpfs-full "$T32" fork "$T32" 8 "$T32/.filler"
rm -f "$T32/.filler"
run_case fork-ext4-full "$E64" fork "$E64" 16 "$E64/.filler"
rm -f "$E64/.filler"
grep -q "its copy is a memfd" "$WORK/fork-ext4-full.ours.err" ||
    { echo "$SUITE: FAIL: fork-ext4-full: the child did not say its copy went to a memfd"; failures=$((failures + 1)); }
[[ $(grep -c "its copy is a memfd" "$WORK/fork-ext4-full.ours.err") -le 1 ]] ||
    { echo "$SUITE: FAIL: fork-ext4-full: the memfd message came more than once"; failures=$((failures + 1)); }

# --- the interposer with its FS_DAX tier on a full filesystem: everything lands in DRAM ---
leave_free "$T32" 0
TIERS="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$T32,RATIO:4;POLICY:STATIC_RATIO"
cat >"$WORK/grow.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Grows one block by realloc to 64 MiB, checking its contents at every step. */
int main(void)
{
    unsigned char *p = NULL;
    size_t size = 0;
    for (size_t next = 4096; next <= (64u << 20); next *= 2) {
        unsigned char *q = realloc(p, next);
        if (!q) { printf("realloc to %zu failed\n", next); return 1; }
        for (size_t i = 0; i < size; i += 4093)
            if (q[i] != (unsigned char)(i * 7)) { printf("lost data at %zu\n", i); return 1; }
        for (size_t i = size; i < next; i++) q[i] = (unsigned char)(i * 7);
        p = q; size = next;
    }
    printf("grew to %zu MiB\n", size >> 20);
    free(p);
    return 0;
}
EOF
"$CC" -O1 -o "$WORK/grow" "$WORK/grow.c" || die "grow.c does not build"
seq 1 200000 | shuf >"$WORK/nums"
THEIR_TIER=$(ls /usr/lib/x86_64-linux-gnu/libmemtier.so.0 2>/dev/null || true)
PY=$(command -v python3 || true)
[[ -n $PY ]] && PY=$("$PY" -c 'import sys; print(sys.executable)')
tier_case() {
    local label="$1"; shift
    local side lib rc
    cases=$((cases + 1))
    for side in memkind ours; do
        lib="$REL/libmorseltier.so"
        [[ $side == memkind ]] && lib="$THEIR_TIER"
        [[ -z $lib ]] && continue
        MEMKIND_MEM_TIERS="$TIERS" LD_PRELOAD="$lib" timeout 300 "$@" >"$WORK/$label.$side.out" 2>"$WORK/$label.$side.err"
        rc=$?
        local what="exit $rc"
        ((rc > 128)) && what="killed by SIG$(signame "$rc")"
        printf '%s: %-28s %-10s %s | %s\n' "$SUITE" "tier-full-$label" "$side" "$what" "$(tail -c 100 "$WORK/$label.$side.out" | tr '\n' ' ')"
        if [[ $side == ours && $rc != 0 ]]; then
            sed 's/^/    stderr: /' "$WORK/$label.$side.err" | head -3
            echo "$SUITE: FAIL: tier-full-$label: ours $what"
            failures=$((failures + 1))
        fi
    done
}
tier_case ls ls -l /
tier_case sort sort -n "$WORK/nums"
tier_case realloc "$WORK/grow"
if [[ -n $PY ]]; then
    tier_case python3 "$PY" -c 'l = [str(i) for i in range(500000)]; b = bytearray()
for i in range(64): b += bytes(1 << 20)
print(len(l), len(b))'
else
    say "python3 not found: the python3 case is not run"
fi
left=$(find "$T32" -mindepth 1 -not -name .filler | head -3)
[[ -z $left ]] || { echo "$SUITE: FAIL: the interposer left $left"; failures=$((failures + 1)); }
rm -f "$T32/.filler"

# --- RLIMIT_AS (ulimit -v, KiB): DEFAULT and PMEM fill at least 90% of what memkind fills ---
VDIR=$(new_pmem_dir vlimit)
for v in 1048576 2097152 4194304; do
    for k in DEFAULT PMEM; do
        run_case "ulimit-v-$((v >> 20))g-$k" "$VDIR" ulimit -v "$v" -- vlimit "$VDIR" "$k"
        theirs=$(grep -o '[0-9]* MiB' "$WORK/ulimit-v-$((v >> 20))g-$k.theirs.out" | grep -o '[0-9]*')
        ours=$(grep -o '[0-9]* MiB' "$WORK/ulimit-v-$((v >> 20))g-$k.ours.out" | grep -o '[0-9]*')
        if [[ -n $theirs && ( -z $ours || $((ours * 10)) -lt $((theirs * 9)) ) ]]; then
            echo "$SUITE: FAIL: ulimit -v $v $k: ours ${ours:-?} MiB, below 90% of memkind's $theirs MiB"
            failures=$((failures + 1))
        fi
    done
done

# --- the interposer under ulimit -v 2000000, DRAM only and DRAM + FS_DAX ---
for spec in "KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO" "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$VDIR,RATIO:4;POLICY:STATIC_RATIO"; do
    for prog in sort python3; do
        [[ $prog == python3 && -z $PY ]] && continue
        cases=$((cases + 1))
        args=(sort -n "$WORK/nums")
        [[ $prog == python3 ]] && args=("$PY" -c 'd = {i: str(i) * 8 for i in range(300000)}; print(len(d))')
        (ulimit -v 2000000; MEMKIND_MEM_TIERS="$spec" LD_PRELOAD="$REL/libmorseltier.so" exec timeout 300 "${args[@]}") \
            >"$WORK/v-$prog.out" 2>"$WORK/v-$prog.err"
        rc=$?
        printf '%s: %-28s %-10s exit %s | %s\n' "$SUITE" "ulimit-v-2000000-$prog" ours "$rc" "${spec%%;POLICY*}"
        if ((rc != 0)); then
            sed 's/^/    stderr: /' "$WORK/v-$prog.err" | head -3
            echo "$SUITE: FAIL: the interposer runs $prog under ulimit -v 2000000: exit $rc"
            failures=$((failures + 1))
        fi
    done
done
find "$VDIR" -mindepth 1 | grep -q . && { echo "$SUITE: FAIL: files left in $VDIR"; failures=$((failures + 1)); }

# --- fork+exec of true from a process holding 1 GiB in a file kind: the parent's wait in
#     fork(), median of 7, at most 10 ms (the child's copy is deferred until it needs one) ---
FDIR=$(new_pmem_dir forkexec)
run_case forkexec-1g "$FDIR" forkexec "$FDIR" 1024 7
for side in theirs ours; do
    med=$(grep -o 'parent [0-9.]* ms' "$WORK/forkexec-1g.$side.out" | awk '{print $2}' | sort -n | sed -n 4p)
    printf '%s: %-28s %-10s median %s ms\n' "$SUITE" forkexec-1g-median "${side/theirs/memkind}" "${med:-?}"
    if [[ $side == ours ]] && ! awk -v m="${med:-999}" 'BEGIN {exit !(m <= 10)}'; then
        echo "$SUITE: FAIL: fork+exec blocked the parent ${med:-?} ms (median), above 10 ms"
        failures=$((failures + 1))
    fi
done

# --- a child that waits for its parent before it calls the library: no deadlock, nothing
#     lost (small kinds are copied at once, larger ones when the child first calls) ---
run_case fork-child-waits-8m "$FDIR" forkwait "$FDIR" 8
run_case fork-child-waits-64m "$FDIR" forkwait "$FDIR" 64
# Above 32 MiB the copy is deferred: the child that neither calls nor execs still works, and
# its parent's data stays its own (see crates/morselkind/src/fork.rs).
run_case fork-deferred-ext4 "$E64" fork "$E64" 40

# --- kinds made and destroyed leave no address space behind (memkind: shown) ---
run_case kind-churn-address-space "$FDIR" kindchurn "$FDIR"

# --- a double free of a cached block: silent by default, one message and abort with
#     MORSELKIND_DEBUG=1 (memkind: shown, not judged) ---
cases=$((cases + 1))
MORSELKIND_DEBUG=1 "$WORK/limits.ours" doublefree "$VDIR" >"$WORK/df.out" 2>"$WORK/df.err"
rc=$?
"$WORK/limits.theirs" doublefree "$VDIR" >"$WORK/df.theirs.out" 2>&1
printf '%s: %-28s %-10s %s | %s\n' "$SUITE" doublefree-debug memkind "exit $?" "$(head -c 100 "$WORK/df.theirs.out")"
printf '%s: %-28s %-10s %s | %s\n' "$SUITE" doublefree-debug ours "exit $rc" "$(grep double "$WORK/df.err")"
if ((rc != 134)) || [[ $(grep -c "double free detected" "$WORK/df.err") != 1 ]]; then
    echo "$SUITE: FAIL: with MORSELKIND_DEBUG=1 a double free must abort with one message (exit $rc)"
    failures=$((failures + 1))
fi

# --- threads starting and allocating at once under load: no spurious NULL (20 s here;
#     benches/stress.sh runs it for 10 minutes) ---
cases=$((cases + 1))
if ! bash "$ROOT/benches/stress.sh" --seconds 20 | sed "s/^/$SUITE: /"; then
    echo "$SUITE: FAIL: the start-up stress had NULLs or failed processes"
    failures=$((failures + 1))
fi

say "$cases cases, $failures failed"
((failures == 0))
