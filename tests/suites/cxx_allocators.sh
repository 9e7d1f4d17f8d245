#!/bin/bash
# C++ allocators: tests/cxx/allocators.cpp, compiled with g++ -std=c++17 against our headers
# (pmem_allocator.h with both allocation policies, memkind_allocator.h, fixed_allocator.h) and
# linked with libmorselkind: std::vector, std::list, std::map and a vector of strings (and a map
# of strings to vectors) through std::scoped_allocator_adaptor, every block checked to come from
# the allocator's kind. For reference the same program is built against memkind's headers and
# library (not required to pass: its moved-from allocators lose their kind).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=cxx_allocators
. "$ROOT/tests/lib.sh"
need_ours
command -v "$CXX" >/dev/null || skip "$CXX is not installed (apt-get install g++, or bash tests/deps.sh)"

CXXFLAGS=(-std=c++17 -O1 -g -Wall -Wextra -Werror -pedantic)
"$CXX" "${CXXFLAGS[@]}" -I "$ROOT/include" "$ROOT/tests/cxx/allocators.cpp" -o "$WORK/allocators" \
    -L "$REL" -lmorselkind -Wl,-rpath,"$REL" || die "allocators.cpp does not build against our headers"
grep -q 'NEEDED.*libmorselkind.so.0' <<<"$(readelf -d "$WORK/allocators")" || die "allocators is not linked with libmorselkind"
dir=$(new_pmem_dir ours)
"$WORK/allocators" "$dir" >"$WORK/ours.out" 2>&1
rc=$?
sed 's/^/  morselkind: /' "$WORK/ours.out"
check_empty_dir "$dir"
[[ $rc -eq 0 ]] || die "the C++ allocator checks failed against morselkind (exit $rc)"
summary=$(grep '^cxx allocators:' "$WORK/ours.out")

if [[ -f /usr/include/pmem_allocator.h ]] &&
    "$CXX" -std=c++17 -O1 -w "$ROOT/tests/cxx/allocators.cpp" -o "$WORK/allocators.memkind" -lmemkind 2>/dev/null; then
    dir=$(new_pmem_dir theirs)
    "$WORK/allocators.memkind" "$dir" no-moved-from >"$WORK/theirs.out" 2>&1
    say "memkind (reference, without the moved-from parts): exit $?: $(tail -1 "$WORK/theirs.out")"
    grep 'CHECK FAILED' "$WORK/theirs.out" | sed 's/^/  memkind: /'
    grep -q 'kind_files(dir) == 0' "$WORK/theirs.out" &&
        say "  (memkind_create_pmem_with_config creates the kind, fails on the policy and keeps it: its file stays open)"
    bash -c '"$1" "$2" >/dev/null 2>&1' _ "$WORK/allocators.memkind" "$dir" 2>/dev/null
    rc=$?
    say "memkind (reference, full program): exit $rc$([[ $rc -ge 128 ]] && echo " (signal $((rc - 128)))")"
fi
say "PASS: $summary (g++ -std=c++17, pmem DEFAULT and CONSERVATIVE, static_kind, fixed; vector, list, map, scoped_allocator_adaptor strings)"
