#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Copyright (c) morselkind authors
#
# Compile-only (-fsyntax-only) checks of morselkind's headers in include/:
#
#   - tests/cxx/headers_compile.cpp: the four C++ allocator headers, with
#     std::vector, std::map and std::list instantiated on every allocator,
#     -Wall -Wextra -Werror -pedantic, in C++11, C++14, C++17 and C++20;
#   - hbw_allocator.h alone in C++98, as memkind supports;
#   - tests/c/headers_compile.c: every C header, every declaration used,
#     -Wall -Wextra -Werror -pedantic, in C99 and C11;
#   - every header on its own (self-contained), C headers also as C++.
#
# When memkind's own headers are installed, the two test files are also
# built against them, to show the tests ask for nothing memkind lacks.
#
# Environment: CC, CXX (as tests/lib.sh: gcc, g++); MEMKIND_INCLUDE (default
# /usr/include). Exits non-zero on the first failure.

set -euo pipefail

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
SUITE=headers_compile
. "$ROOT/tests/lib.sh"
MEMKIND_INCLUDE="${MEMKIND_INCLUDE:-/usr/include}"
INC="$ROOT/include"

C_HEADERS=(memkind.h memkind_deprecated.h hbwmalloc.h memkind_memtier.h morselkind.h)
CXX_HEADERS=(pmem_allocator.h memkind_allocator.h fixed_allocator.h hbw_allocator.h)
STRICT=(-Wall -Wextra -Werror -pedantic -fsyntax-only)

builds=0
run() {
    if ! "$@" 2>"$WORK/err.txt"; then
        cat "$WORK/err.txt" >&2
        die "$*"
    fi
    builds=$((builds + 1))
}

# C++ allocators in containers.
for std in c++11 c++14 c++17 c++20; do
    run "$CXX" -std=$std "${STRICT[@]}" -I "$INC" "$ROOT/tests/cxx/headers_compile.cpp"
done

# hbw_allocator.h is usable from C++98.
cat >"$WORK/hbw98.cpp" <<'EOF'
#include <hbw_allocator.h>
#include <list>
#include <map>
#include <vector>
template class hbw::allocator<int>;
template class std::vector<int, hbw::allocator<int> >;
template class std::list<int, hbw::allocator<int> >;
template class std::map<int, int, std::less<int>, hbw::allocator<std::pair<const int, int> > >;
EOF
run "$CXX" -std=c++98 "${STRICT[@]}" -I "$INC" "$WORK/hbw98.cpp"

# Every C header, every declaration.
for std in c99 c11; do
    run "$CC" -std=$std "${STRICT[@]}" -I "$INC" "$ROOT/tests/c/headers_compile.c"
done

# Each header on its own.
for h in "${C_HEADERS[@]}"; do
    printf '#include <%s>\n' "$h" >"$WORK/one.c"
    run "$CC" -std=c99 "${STRICT[@]}" -I "$INC" "$WORK/one.c"
    run "$CXX" -x c++ -std=c++11 "${STRICT[@]}" -I "$INC" "$WORK/one.c"
done
for h in "${CXX_HEADERS[@]}"; do
    printf '#include <%s>\n' "$h" >"$WORK/one.cpp"
    run "$CXX" -std=c++11 "${STRICT[@]}" -I "$INC" "$WORK/one.cpp"
done

# The same tests against memkind's headers, when installed.
reference=""
if [[ -f "$MEMKIND_INCLUDE/memkind.h" && -f "$MEMKIND_INCLUDE/pmem_allocator.h" ]]; then
    mkdir -p "$WORK/memkind"
    for h in "${C_HEADERS[@]}" "${CXX_HEADERS[@]}"; do
        [[ $h == morselkind.h ]] || cp "$MEMKIND_INCLUDE/$h" "$WORK/memkind/"
    done
    for std in c++11 c++17; do
        run "$CXX" -std=$std -fsyntax-only -DHEADERS_COMPILE_MEMKIND_ONLY \
            -I "$WORK/memkind" "$ROOT/tests/cxx/headers_compile.cpp"
    done
    for std in c99 c11; do
        run "$CC" -std=$std -fsyntax-only -DHEADERS_COMPILE_MEMKIND_ONLY \
            -I "$WORK/memkind" "$ROOT/tests/c/headers_compile.c"
    done
    reference=", the same tests also build against memkind's headers"
fi

echo "headers compile: $builds builds passed$reference"
