#!/bin/bash
# The README, verbatim: every code block of README.md is marked `<!-- readme.sh: NAME -->`
# (checked here, so a new block cannot go untested) and run or compiled as a reader would,
# from the repository's root:
#
#   quickstart   its first line (the second, tests/run-all.sh, is what runs this suite)
#   app.c        written to app.c; c-recipe builds and runs it against target/release
#   examples     make -C examples run
#   install      scripts/install.sh ~/.local, with HOME a temporary directory
#   tiers        morselkind run and LD_PRELOAD=libmorseltier.so
#   preload      app.c built against the system memkind, run with LD_PRELOAD=libmorselkind.so
#   rust-project a new cargo project (TMPDIR is this suite's), with a path dependency;
#   rust-main    as its src/main.rs, then `cargo run --release`
#   vec.cpp      written to vec.cpp; cxx-recipe builds and runs it
#   cache.c      written to cache.c; cache-recipe builds and runs it against libmorselcache
#
# Files the blocks make in the repository's root (app.c, app, memkind-program, vec.cpp, vec,
# cache.c, cache)
# are removed at the end; the suite refuses to start if one of them is already there. The new
# cargo project builds into target/readme-rust (kept, so later runs are quick).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=readme
. "$ROOT/tests/lib.sh"
need_ours
README="$ROOT/README.md"
MADE=(app.c app memkind-program vec.cpp vec cache.c cache)
for f in "${MADE[@]}"; do
    [[ -e "$ROOT/$f" ]] && die "$ROOT/$f exists; the README's recipes would overwrite it (move it away first)"
done
_readme_cleanup() {
    for f in "${MADE[@]}"; do rm -f "$ROOT/$f"; done
    _lib_cleanup
}
trap _readme_cleanup EXIT
cd "$ROOT" || die "cannot cd to $ROOT"

# Every fenced block that opens with a language is right after its marker.
unmarked=$(awk '/^```[a-z]/ && !inblock { if (prev !~ /^<!-- readme.sh: /) print NR ": " $0; inblock = 1; prev = $0; next }
    /^```/ && inblock { inblock = 0 } { prev = $0 }' "$README")
[[ -z "$unmarked" ]] || die "README.md has code blocks without a readme.sh marker (add one, and run them here): $unmarked"

# block NAME: the code block after `<!-- readme.sh: NAME`.
block() {
    local text
    text=$(awk -v name="$1" '
        index($0, "<!-- readme.sh: " name " ") == 1 || $0 == "<!-- readme.sh: " name " -->" { found = 1; next }
        found == 1 && /^```/ { found = 2; next }
        found == 2 && /^```/ { exit }
        found == 2 { print }' "$README")
    [[ -n "$text" ]] || die "README.md has no block marked readme.sh: $1"
    printf '%s\n' "$text"
}

# run_block NAME LOG: runs the block with bash -e from the repository's root; its output in LOG.
run_block() {
    local name="$1" log="$2"
    say "running the README's $name block"
    if ! env -u LD_LIBRARY_PATH -u LD_PRELOAD -u MEMKIND_MEM_TIERS bash -euo pipefail -c "$(block "$name")" >"$log" 2>&1; then
        sed 's/^/    /' "$log" | tail -40
        die "the README's $name block failed"
    fi
}

skipped=()

# --- Quick start (its first line) ------------------------------------------------------------
quick=$(block quickstart)
[[ "$(sed -n 2p <<<"$quick")" == "bash tests/run-all.sh" ]] || die "the quick start's second line is not bash tests/run-all.sh"
first=$(head -1 <<<"$quick")
say "running the quick start's first line"
env -u MEMKIND_MEM_TIERS bash -euo pipefail -c "$first" >"$WORK/quick.out" 2>"$WORK/quick.err" ||
    { tail -20 "$WORK/quick.err"; die "the quick start's first command failed"; }
[[ "$(cat "$WORK/quick.out")" == 2000000 ]] || die "the quick start's program printed: $(head -3 "$WORK/quick.out")"
grep -q 'over 2 tiers (from the default)' "$WORK/quick.err" && grep -q 'live-byte ratio over the run' "$WORK/quick.err" ||
    { cat "$WORK/quick.err"; die "the quick start's morselkind run did not report the default tiers"; }

# --- C ---------------------------------------------------------------------------------------
block app.c >"$ROOT/app.c"
run_block c-recipe "$WORK/c.out"
grep -qx 'hello from a PMEM kind; DEFAULT: 1, PMEM: 1' "$WORK/c.out" || { cat "$WORK/c.out"; die "app printed something else"; }
readelf -d "$ROOT/app" | grep -q 'NEEDED.*libmorselkind.so.0' || die "app is not linked with libmorselkind.so.0"

run_block examples "$WORK/examples.out"
grep -qx 'examples: 0 failed' "$WORK/examples.out" || { tail "$WORK/examples.out"; die "make -C examples run did not end with 'examples: 0 failed'"; }
say "examples: $(grep -c ': PASS$' "$WORK/examples.out") PASS lines"

mkdir -p "$WORK/home"
rm -f "$ROOT/app"
# A temporary HOME; cargo and rustup keep theirs.
RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" HOME="$WORK/home" \
    run_block install "$WORK/install.out"
grep -qx 'hello from a PMEM kind; DEFAULT: 1, PMEM: 1' "$WORK/install.out" || { cat "$WORK/install.out"; die "the installed app printed something else"; }
[[ "$(ldd "$ROOT/app" | awk '/libmorselkind/ {print $3}')" == "$WORK/home/.local/lib/libmorselkind.so.0" ]] ||
    die "the app built with pkg-config loads $(ldd "$ROOT/app" | grep libmorselkind)"
[[ -f "$WORK/home/.local/include/morselkind/memkind.h" && ! -e "$WORK/home/.local/include/memkind.h" ]] ||
    die "the headers are not in PREFIX/include/morselkind only"
for f in bin/morselkind lib/libmorseltier.so lib/libmorselkind.a share/man/man1/morselkind.1; do
    [[ -f "$WORK/home/.local/$f" ]] || die "scripts/install.sh did not install $f"
done

# --- libvmemcache ------------------------------------------------------------------------------
block cache.c >"$ROOT/cache.c"
run_block cache-recipe "$WORK/cache.out"
grep -qx 'got 8 of 8 bytes: a value' "$WORK/cache.out" || { cat "$WORK/cache.out"; die "cache printed something else"; }

# --- Whole programs --------------------------------------------------------------------------
run_block tiers "$WORK/tiers.out"
[[ $(grep -cx 100000 "$WORK/tiers.out") -eq 2 ]] || { cat "$WORK/tiers.out"; die "the tiering commands did not both print 100000"; }
grep -q 'live-byte ratio over the run\|live bytes over the run' "$WORK/tiers.out" || { cat "$WORK/tiers.out"; die "morselkind run gave no tier report"; }

if [[ -f /usr/include/memkind.h ]]; then
    run_block preload "$WORK/preload.out"
    grep -qx 'hello from a PMEM kind; DEFAULT: 1, PMEM: 1' "$WORK/preload.out" || { cat "$WORK/preload.out"; die "memkind-program printed something else"; }
    readelf -d "$ROOT/memkind-program" | grep -q 'NEEDED.*libmemkind.so' || die "memkind-program is not linked with libmemkind"
    # The same command once more, with the loader saying which library's constructor ran.
    loader=$(LD_DEBUG=libs LD_PRELOAD="$ROOT/target/release/libmorselkind.so" "$ROOT/memkind-program" 2>&1 >/dev/null)
    grep -q "calling init: $ROOT/target/release/libmorselkind.so" <<<"$loader" || die "memkind-program did not load libmorselkind.so"
else
    say "SKIPPED the preload block: memkind's headers are not installed (apt-get install libmemkind-dev, or bash tests/deps.sh)"
    skipped+=(preload)
fi

# --- Rust ------------------------------------------------------------------------------------
# The block cds into the new project; where it is, it says after it (same shell).
proj_block="$(block rust-project)
pwd >'$WORK/rust.dir'"
say "running the README's rust-project block"
env TMPDIR="$WORK" bash -euo pipefail -c "$proj_block" >"$WORK/rust-project.out" 2>&1 ||
    { tail -30 "$WORK/rust-project.out"; die "the README's rust-project block failed"; }
proj=$(cat "$WORK/rust.dir")
[[ "$proj" == "$WORK"/*/hello-kinds && -f "$proj/Cargo.toml" ]] || die "no new cargo project at $proj"
dep=$(sed -n 's/^morselkind = { .*path = "\([^"]*\)".*/\1/p' "$proj/Cargo.toml")
[[ -n "$dep" && "$(cd "$proj" && realpath "$dep")" == "$(realpath "$ROOT/crates/morselkind")" ]] ||
    { cat "$proj/Cargo.toml"; die "the new project does not depend on this morselkind by path"; }
block rust-main >"$proj/src/main.rs"
say "cargo run --release in the new project"
(cd "$proj" && CARGO_TARGET_DIR="$ROOT/target/readme-rust" cargo run --release -q) >"$WORK/rust.out" 2>"$WORK/rust.err" ||
    { tail -40 "$WORK/rust.err"; die "the README's Rust program does not build or run"; }
grep -q '^1 element(s) in DEFAULT, 1 entry in Kind(' "$WORK/rust.out" || { cat "$WORK/rust.out"; die "the Rust program printed something else"; }
say "rust: $(grep -E '^(hashbrown|allocator-api2) ' <(cd "$proj" && cargo tree --prefix none 2>/dev/null) | sort -u | tr '\n' ' ')"

# --- C++ -------------------------------------------------------------------------------------
block vec.cpp >"$ROOT/vec.cpp"
run_block cxx-recipe "$WORK/cxx.out"
readelf -d "$ROOT/vec" | grep -q 'NEEDED.*libmorselkind.so.0' || die "vec is not linked with libmorselkind.so.0"

if [[ ${#skipped[@]} -gt 0 ]]; then
    skip "every other README block passed; not run: ${skipped[*]}"
fi
say "PASS: every code block of README.md runs verbatim (quick start, C, examples, install, tiering, LD_PRELOAD, Rust, C++)"
