#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Copyright (c) morselkind authors
#
# Proves that morselkind's headers in include/ declare the same ABI as
# memkind 1.14's installed headers. Each check is built twice, once with
# -I "$ROOT/include" (ours, searched before /usr/include) and once with -I on
# a private copy of the system headers, and the two outputs are diffed:
#
#   1. tests/c/abi_constants.c: every enumerator and constant (value, C type,
#      size) and every public type (size, alignment, underlying type);
#   2. the C prototypes of every function, as gcc -aux-info prints them;
#   3. tests/cxx/abi_signatures.cpp (C++11 and C++17): the mangled type of
#      every function and kind variable, the C enums' underlying types in C++,
#      and the C++ allocators' public types, members and traits;
#   4. the MEMKIND_*, HBW_*, MEMTIER_* macros the headers define.
#
# It also checks that every enumerator, function and kind variable found in
# the system headers is covered by the test programs, and that each build
# really read the headers it was meant to.
#
# Environment: CC, CXX (as tests/lib.sh: gcc, g++); MEMKIND_INCLUDE (default
# /usr/include), where memkind's headers are installed.
# Exits 0 when everything is identical, 1 on any difference or when memkind's
# headers are missing.

set -euo pipefail

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
SUITE=abi_constants
. "$ROOT/tests/lib.sh"
MEMKIND_INCLUDE="${MEMKIND_INCLUDE:-/usr/include}"

C_HEADERS=(memkind.h memkind_deprecated.h hbwmalloc.h memkind_memtier.h)
CXX_HEADERS=(pmem_allocator.h memkind_allocator.h fixed_allocator.h hbw_allocator.h)

# A private copy of memkind's headers, so that the reference build says
# exactly which headers it uses.
mkdir -p "$WORK/memkind"
for h in "${C_HEADERS[@]}" "${CXX_HEADERS[@]}"; do
    [[ -f "$MEMKIND_INCLUDE/$h" ]] ||
        die "$MEMKIND_INCLUDE/$h not found (apt-get install libmemkind-dev, or bash tests/deps.sh)"
    cp "$MEMKIND_INCLUDE/$h" "$WORK/memkind/$h"
done
for h in "${C_HEADERS[@]}" "${CXX_HEADERS[@]}"; do
    [[ -f "$ROOT/include/$h" ]] || die "include/$h is missing"
done

OURS="$ROOT/include"
THEIRS="$WORK/memkind"

# check_deps <dep file> <include dir>: every memkind header the build read
# must come from <include dir>.
check_deps() {
    local deps="$1" dir="$2" h path
    for h in "${C_HEADERS[@]}" "${CXX_HEADERS[@]}"; do
        while read -r path; do
            [[ "$(cd "$(dirname "$path")" && pwd)" == "$(cd "$dir" && pwd)" ]] ||
                die "$h was read from $path instead of $dir"
        done < <(tr ' \\' '\n\n' < "$deps" | grep -E "(^|/)$h\$" || true)
    done
}

# compare <label> <ours file> <theirs file>
compare() {
    if ! diff -u --label "memkind 1.14 ($1)" --label "morselkind ($1)" "$3" "$2" >"$WORK/diff.txt"; then
        cat "$WORK/diff.txt" >&2
        die "$1 differ"
    fi
}

# --- 1. constants and types (C11) ---------------------------------------
for side in ours theirs; do
    dir=$OURS; [[ $side == theirs ]] && dir=$THEIRS
    "$CC" -std=c11 -O0 -I "$dir" -MD -MF "$WORK/const-$side.d" \
        "$ROOT/tests/c/abi_constants.c" -o "$WORK/const-$side"
    check_deps "$WORK/const-$side.d" "$dir"
    "$WORK/const-$side" >"$WORK/const-$side.txt"
done
compare "constants" "$WORK/const-ours.txt" "$WORK/const-theirs.txt"
N_CONST="$(sed -n 's/^checked=//p' "$WORK/const-ours.txt")"

# --- 2. C prototypes ------------------------------------------------------
printf '#include <memkind.h>\n#include <hbwmalloc.h>\n#include <memkind_memtier.h>\n' >"$WORK/all.c"
for side in ours theirs; do
    dir=$OURS; [[ $side == theirs ]] && dir=$THEIRS
    "$CC" -std=c11 -I "$dir" -fsyntax-only -aux-info "$WORK/aux-$side.raw" "$WORK/all.c"
    # Keep declarations from the header directory; drop the file:line comment.
    grep -F "/* $dir/" "$WORK/aux-$side.raw" |
        sed -E 's|^/\* [^ ]+:[0-9]+:([A-Z]+) \*/ |\1 |' | LC_ALL=C sort >"$WORK/aux-$side.txt"
done
compare "C prototypes" "$WORK/aux-ours.txt" "$WORK/aux-theirs.txt"
N_PROTO="$(wc -l <"$WORK/aux-ours.txt")"

# --- 3. C++ signatures, enums and allocator API ----------------------------
N_SIG=0
for std in c++11 c++17; do
    for side in ours theirs; do
        dir=$OURS; [[ $side == theirs ]] && dir=$THEIRS
        "$CXX" -std=$std -O0 -Wno-deprecated-declarations -I "$dir" \
            -MD -MF "$WORK/sig-$std-$side.d" \
            "$ROOT/tests/cxx/abi_signatures.cpp" -o "$WORK/sig-$std-$side"
        check_deps "$WORK/sig-$std-$side.d" "$dir"
        "$WORK/sig-$std-$side" >"$WORK/sig-$std-$side.txt"
    done
    compare "C++ signatures, -std=$std" "$WORK/sig-$std-ours.txt" "$WORK/sig-$std-theirs.txt"
    N_SIG=$((N_SIG + $(sed -n 's/^checked=//p' "$WORK/sig-$std-ours.txt")))
done

# --- 4. macros ------------------------------------------------------------
macros() { grep -E '^#define _?(MEMKIND|HBW|MEMTIER)_' | LC_ALL=C sort; }
for side in ours theirs; do
    dir=$OURS; [[ $side == theirs ]] && dir=$THEIRS
    "$CC" -std=c11 -I "$dir" -dM -E "$WORK/all.c" | macros >"$WORK/macros-c-$side.txt"
    printf '#include <%s>\n' "${C_HEADERS[@]}" "${CXX_HEADERS[@]}" >"$WORK/all.cpp"
    "$CXX" -std=c++17 -I "$dir" -dM -E "$WORK/all.cpp" | macros >"$WORK/macros-cxx-$side.txt"
done
compare "C macros" "$WORK/macros-c-ours.txt" "$WORK/macros-c-theirs.txt"
compare "C++ macros" "$WORK/macros-cxx-ours.txt" "$WORK/macros-cxx-theirs.txt"
N_MACRO="$(cat "$WORK/macros-c-ours.txt" "$WORK/macros-cxx-ours.txt" | wc -l)"

# --- Coverage: the same names on both sides, and all of them tested -----
# names <side> <include dir>: "enumerator|variable|function NAME" lines for
# everything the C headers in <include dir> declare.
names() {
    local side="$1" dir="$2"
    # The headers, preprocessed, keeping only text that comes from them.
    "$CC" -std=c11 -I "$dir" -E "$WORK/all.c" |
        awk -v dir="$dir/" '
            /^# [0-9]+ "/ { file = $3; gsub(/"/, "", file); keep = index(file, dir) == 1; next }
            keep' | tr '\n' ' ' >"$WORK/$side.i"
    grep -oE '[{,][[:space:]]*(MEMKIND|HBW|MEMTIER)_[A-Za-z0-9_]+[[:space:]]*[=,}]' "$WORK/$side.i" |
        grep -oE '(MEMKIND|HBW|MEMTIER)_[A-Za-z0-9_]+' | sed 's/^/enumerator /'
    tr ';' '\n' <"$WORK/$side.i" |
        sed -nE 's/^[[:space:]]*extern[^(]*[[:space:]*]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*$/variable \1/p'
    sed -E 's/^[A-Z]+ //; s/[[:space:]]*\(.*//; s/.*[[:space:]*]/function /' "$WORK/aux-$side.txt"
}
names ours "$OURS" | LC_ALL=C sort -u >"$WORK/names-ours.txt"
names theirs "$THEIRS" | LC_ALL=C sort -u >"$WORK/names-theirs.txt"
compare "declared names" "$WORK/names-ours.txt" "$WORK/names-theirs.txt"

n_enum=$(grep -c '^enumerator ' "$WORK/names-theirs.txt" || true)
n_var=$(grep -c '^variable ' "$WORK/names-theirs.txt" || true)
n_fun=$(grep -c '^function ' "$WORK/names-theirs.txt" || true)
((n_enum > 0 && n_var > 0 && n_fun > 0)) ||
    die "could not read the names declared by memkind's headers"
while read -r what name; do
    case $what in
        enumerator) grep -q "^$name=" "$WORK/const-ours.txt" ||
            die "enumerator $name is not checked by tests/c/abi_constants.c" ;;
        variable | function) grep -q "^$what:$name=" "$WORK/sig-c++11-ours.txt" ||
            die "$what $name is not checked by tests/cxx/abi_signatures.cpp" ;;
    esac
done <"$WORK/names-theirs.txt"

echo "abi coverage: $n_enum enumerators, $n_fun functions, $n_var kind variables declared by memkind 1.14, all checked"
echo "abi prototypes: $N_PROTO checked, identical"
echo "abi signatures: $N_SIG checked (C++11 and C++17), identical"
echo "abi macros: $N_MACRO checked, identical"
echo "abi constants: $N_CONST checked, identical"
