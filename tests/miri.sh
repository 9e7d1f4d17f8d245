#!/bin/bash
# The tests of the workspace that Miri can run, under Miri (nightly with the miri component:
# `rustup component add --toolchain nightly miri rust-src`): the busy-window handshake of the
# thread caches over a mock arena (crates/morselkind/src/busy.rs, mock_tests: std threads and
# plain data, checked by Miri's data-race detector and weak-memory emulation), and the pure-Rust
# unit tests (topology's parsers and options table, morsel's orders and lock, memtier's spec,
# counters and ctl names, vcache's heap, the C-ABI guard).
#
# What is left out makes FFI calls or syscalls Miri cannot execute: jemalloc (every kind,
# sizes::classes_match_jemalloc, meta, log, memtier's builders and memories), mmap, fork, /proc.
# morsel's lock::tests::excludes_and_counts (8 threads x 20,000 lock rounds) runs under Miri
# but takes longer than 15 minutes there, so it is left out too. The tests are named here
# rather than marked #[cfg_attr(miri, ignore)] in the sources.
#
# Not part of tests/run-all.sh: it takes longer than the three minutes allowed there (Miri
# interprets; the first run also builds Miri's sysroot and the dependencies).
# Environment: MIRIFLAGS (default: -Zmiri-disable-isolation, for the tests that read files);
# MIRI_SEEDS, e.g. 0..16, runs the busy window once per scheduler seed (-Zmiri-many-seeds).
# Exits non-zero if any test fails or Miri reports undefined behaviour.
set -uo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$ROOT" || exit 1
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri --version >/dev/null 2>&1 ||
    { echo "miri: SKIPPED: no Miri (rustup component add --toolchain nightly miri rust-src)"; exit 77; }

fail=0 passed=0
# step LABEL CARGO-MIRI-TEST-ARGS... [-- TEST FILTERS...]
step() {
    local label=$1 log
    shift
    log=$(mktemp "${TMPDIR:-/tmp}/morselkind-miri.XXXXXX")
    echo "== miri: $label"
    cargo +nightly miri test "$@" 2>&1 | tee "$log" | grep -E "^test |^test result|^error|Undefined Behavior|data race"
    if [[ ${PIPESTATUS[0]} -ne 0 ]] || ! grep -q "^test result: ok" "$log"; then
        grep -B5 -A30 -E "^error" "$log" | head -80
        fail=$((fail + 1))
    fi
    passed=$((passed + $(grep -E "^test result: ok" "$log" | awk '{n += $4} END {print n + 0}')))
    rm -f "$log"
}

seeds=()
[[ -n "${MIRI_SEEDS:-}" ]] && seeds=(env MIRIFLAGS="$MIRIFLAGS -Zmiri-many-seeds=$MIRI_SEEDS")
step "busy window over a mock arena" -p morselkind --lib -- busy::mock_tests
if [[ ${#seeds[@]} -gt 0 ]]; then
    "${seeds[@]}" bash -c 'cargo +nightly miri test -p morselkind --lib -- busy::mock_tests' 2>&1 | tail -5
    [[ ${PIPESTATUS[0]} -eq 0 ]] || fail=$((fail + 1))
fi
step "topology: parsers and options" -p topology --lib
step "morsel: orders and lock" -p morselkind-morsel --lib -- order:: lock::tests::raw_acquire_release
step "memtier: spec, counters, ctl names" -p memtier --lib -- spec:: counters:: builder::tests::ctl_names
step "vcache: heap" -p vcache --lib -- heap::
step "cabi: guard and errno" -p morselkind-cabi --lib

echo "miri: $passed tests passed, $fail steps failed"
[[ $fail -eq 0 ]]
