#!/bin/bash
# Runs every test of the project: the Rust tests of the whole workspace (unit, integration,
# property and doc tests), then each suite in tests/suites/*.sh (C, C++, LD_PRELOAD, dlopen,
# static linking, differential tests against the system memkind, examples, the VM).
# A suite exits 0 (passed), 77 (skipped: it prints why, loudly) or anything else (failed).
# The last line is "tests: N passed, M failed, K skipped".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ROOT

pass=0 fail=0 skip=0 failed=()
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/morselkind-run-all.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
echo "== cargo build --release --workspace"
if ! cargo build --release --workspace; then
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
echo "== cargo test --release --workspace"
if cargo test --release --workspace 2>&1 | tee "$LOGS/cargo-test.log"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); failed+=("cargo test")
fi
grep -E "^test result:" "$LOGS/cargo-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {print "cargo tests: " p " passed, " f " failed, " i " ignored"}'

# The thread caches' busy-window handshake under loom (every interleaving; crates/morselkind/
# src/busy.rs). cfg(loom) rebuilds the dependencies, so it has a target directory of its own.
echo "== loom: the busy window"
if RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$ROOT/target/loom" cargo test --release -p morselkind --lib busy::loom 2>&1 |
    tee "$LOGS/loom.log" | grep -E "^test |^test result"; grep -q "^test result: ok. 1 passed" "$LOGS/loom.log"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); failed+=("loom")
fi

for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  echo "== suite $name"
  start=$(date +%s)
  bash "$suite"
  rc=$?
  took=$(( $(date +%s) - start ))
  case $rc in
    0) pass=$((pass + 1)); echo "-- $name: passed (${took}s)" ;;
    77) skip=$((skip + 1)); echo "-- $name: SKIPPED (${took}s)" ;;
    *) fail=$((fail + 1)); failed+=("$name"); echo "-- $name: FAILED with status $rc (${took}s)" ;;
  esac
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
