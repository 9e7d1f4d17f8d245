#!/bin/bash
# The Rust crates are ready to publish: `cargo package --workspace` packages and verifies (builds
# from the packaged sources alone, against each other through cargo's local overlay registry)
# the library crates morselkind-morsel, topology, morselkind and memtier; each has the metadata
# crates.io asks for; ffi, preload, cli, cabi, vcache, vcache-ffi and test-support are
# `publish = false`;
# `cargo doc` has no warnings.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=crates_package
. "$ROOT/tests/lib.sh"
cd "$ROOT" || die "cannot cd to $ROOT"
command -v python3 >/dev/null || skip "python3 is not installed (bash tests/deps.sh)"

cargo metadata --format-version 1 --no-deps >"$WORK/meta.json" || die "cargo metadata failed"
python3 - "$WORK/meta.json" <<'PY' || die "package metadata is incomplete"
import json, sys
meta = json.load(open(sys.argv[1]))
libs = {"morselkind-morsel", "topology", "morselkind", "memtier"}
# The C libraries, the command, the C-ABI helpers, vcache until its API settles (issue 18), and
# the integration tests' shared helpers.
private = {"morselkind-ffi", "morselkind-tier", "morselkind-cli", "morselkind-cabi", "vcache", "vcache-ffi",
           "morselkind-test-support"}
bad = []
seen = set()
for p in meta["packages"]:
    seen.add(p["name"])
    if p["name"] in libs:
        for field in ("description", "license", "repository", "readme"):
            if not p.get(field):
                bad.append(f"{p['name']}: no {field}")
        for field in ("keywords", "categories"):
            if not p.get(field):
                bad.append(f"{p['name']}: no {field}")
        if p["publish"] is not None:
            bad.append(f"{p['name']}: publish = {p['publish']}")
        for d in p["dependencies"]:
            # A path-only dev-dependency (the test helpers) is dropped by `cargo package`.
            if d.get("kind") == "dev" and d["name"] == "morselkind-test-support":
                continue
            if d.get("path") and not d["req"] or d.get("path") and d["req"] == "*":
                bad.append(f"{p['name']}: path dependency {d['name']} has no version")
    elif p["name"] in private:
        if p["publish"] != []:
            bad.append(f"{p['name']}: not publish = false")
    else:
        bad.append(f"unexpected package {p['name']}")
missing = (libs | private) - seen
if missing:
    bad.append(f"missing packages: {sorted(missing)}")
for b in bad:
    print("crates_package:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# Package and verify every publishable crate, in a target directory of this run: cargo
# fingerprints crates from a registry (here its local overlay of the packages just made) by
# version alone, so a shared target directory would build against an earlier run's sources.
# The overlay's unpacked sources (CARGO_HOME/registry/src/<hash of this target dir>) are
# removed at the end.
REGSRC="${CARGO_HOME:-$HOME/.cargo}/registry/src"
before=$(ls "$REGSRC" 2>/dev/null)
cargo package --workspace --allow-dirty --target-dir "$WORK/target" \
    --exclude morselkind-ffi --exclude morselkind-tier --exclude morselkind-cli --exclude morselkind-cabi \
    --exclude vcache --exclude vcache-ffi --exclude morselkind-test-support >"$WORK/package.log" 2>&1
rc=$?
for d in $(ls "$REGSRC" 2>/dev/null); do
    grep -qxF "$d" <<<"$before" || [[ "$d" == index.* ]] || rm -rf "${REGSRC:?}/$d"
done
[[ $rc -eq 0 ]] || { tail -40 "$WORK/package.log"; die "cargo package --workspace failed"; }
packaged=$(grep -c '^ *Packaged ' "$WORK/package.log")
verified=$(grep -c '^ *Verifying ' "$WORK/package.log")
[[ $packaged -eq 4 && $verified -eq 4 ]] || { cat "$WORK/package.log"; die "packaged $packaged and verified $verified crates, not 4"; }
for c in morselkind-morsel topology morselkind memtier; do
    f="$WORK/target/package/$c-0.1.0.crate"
    [[ -f "$f" ]] || die "$f was not made"
    files=$(tar tzf "$f")
    grep -qx "$c-0.1.0/README.md" <<<"$files" || die "$c's package has no README.md"
    grep -qx "$c-0.1.0/LICENSE-MIT" <<<"$files" || die "$c's package has no LICENSE-MIT"
done
say "packaged and verified: $(grep '^ *Packaging ' "$WORK/package.log" | awk '{print $2 "-" $3}' | tr '\n' ' ')"

RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps >"$WORK/doc.log" 2>&1 ||
    { grep -A8 -E '^(warning|error)' "$WORK/doc.log" | head -60; die "cargo doc --workspace has warnings"; }
say "PASS: the four library crates package and verify, with their metadata; the rest are publish = false; cargo doc is clean"
