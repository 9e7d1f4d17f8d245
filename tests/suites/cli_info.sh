#!/bin/bash
# The `morselkind` command: `info --hbw-nodes` / `--dax-kmem-nodes` print what memkind's
# memkind-hbw-nodes / memkind-auto-dax-kmem-nodes print (stdout and exit status), with and
# without the environment overrides; `info --json` is valid JSON that says what the text says;
# `demo` passes its own checks.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=cli_info
. "$ROOT/tests/lib.sh"
BIN="$ROOT/target/release/morselkind"
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release -q -p morselkind-cli) || exit 1
fi
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# --- node lists against memkind's own tools -----------------------------------------------
max_node=$(ls -d /sys/devices/system/node/node* 2>/dev/null | sed 's/.*node//' | sort -n | tail -1)
absent=$(( ${max_node:-0} + 1 ))
compared=0
for pair in "MEMKIND_HBW_NODES memkind-hbw-nodes --hbw-nodes" \
            "MEMKIND_DAX_KMEM_NODES memkind-auto-dax-kmem-nodes --dax-kmem-nodes"; do
  set -- $pair
  var=$1 tool=/usr/bin/$2 flag=$3
  if [ ! -x "$tool" ]; then
    echo "SKIPPING the $2 comparison: $tool is missing (Debian's libmemkind-progs has it)"
    continue
  fi
  # Each case: "-" leaves every override unset; otherwise VAR=value for this tool's variable.
  # The other tool's variable is set too in one case, to show it has no effect here.
  for value in - 0 all 0,0 0-0 "$absent" "0-$absent" xyz OTHER; do
    envs=(env -u MEMKIND_HBW_NODES -u MEMKIND_DAX_KMEM_NODES)
    case $value in
      -) label="unset" ;;
      OTHER) label="other variable only"
             [ "$var" = MEMKIND_HBW_NODES ] && envs+=(MEMKIND_DAX_KMEM_NODES=0) || envs+=(MEMKIND_HBW_NODES=0) ;;
      *) label="$var=$value"; envs+=("$var=$value") ;;
    esac
    want=$("${envs[@]}" "$tool" 2>/dev/null); want_rc=$?
    got=$("${envs[@]}" "$BIN" info "$flag" 2>/dev/null); got_rc=$?
    if [ "$want" != "$got" ] || [ "$want_rc" != "$got_rc" ]; then
      bad "$flag with $label: memkind printed '$want' (status $want_rc), we printed '$got' (status $got_rc)"
    else
      echo "ok: $flag with $label: '$got' (status $got_rc)"
    fi
    compared=$((compared + 1))
  done
done
if [ "$compared" -eq 0 ]; then
  echo "SKIPPING every node-list comparison: memkind's tools are not installed"
fi

# --- info and info --json ------------------------------------------------------------------
"$BIN" info > "$WORK/info.out" || bad "info exited with status $?"
grep -q "memkind_default .* available" "$WORK/info.out" || bad "info does not list memkind_default as available"
json=$("$BIN" info --json) || bad "info --json exited with status $?"
if ! printf '%s' "$json" | python3 -m json.tool > /dev/null; then
  bad "info --json is not valid JSON"
else
  echo "ok: info --json is valid JSON"
  printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
kinds = {k["name"]: k for k in d["kinds"]}
assert len(kinds) >= 27, len(kinds)
assert kinds["memkind_default"]["available"], kinds["memkind_default"]
for k in d["kinds"]:
    assert ("nodes" in k) if k["available"] else (k["error"].startswith("MEMKIND_ERROR_") and k["code"] < 0), k
node_ids = [n["id"] for n in d["nodes"]]
assert node_ids and all(set(k["nodes"]) <= set(node_ids) for k in d["kinds"] if k["available"])
names = [o["name"] for o in d["options"]]
assert "MEMKIND_HBW_NODES" in names and "MEMKIND_DAX_KMEM_NODES" in names, names
' && echo "ok: info --json lists every kind, node and option" || bad "info --json content"
fi
# With the overrides, the HBW and DAX_KMEM kinds become available on node 0.
json=$(MEMKIND_HBW_NODES=0 MEMKIND_DAX_KMEM_NODES=0 "$BIN" info --json)
printf '%s' "$json" | python3 -c '
import json, sys
kinds = {k["name"]: k for k in json.load(sys.stdin)["kinds"]}
for name in ["memkind_hbw", "memkind_hbw_all", "memkind_hbw_preferred", "memkind_hbw_interleave",
             "memkind_dax_kmem", "memkind_dax_kmem_all", "memkind_dax_kmem_preferred",
             "memkind_dax_kmem_interleave"]:
    assert kinds[name]["available"] and kinds[name]["nodes"] == [0], kinds[name]
' && echo "ok: with MEMKIND_HBW_NODES=0 MEMKIND_DAX_KMEM_NODES=0 the HBW and DAX_KMEM kinds use node 0" \
  || bad "HBW/DAX_KMEM kinds with the overrides"

# --- demo ------------------------------------------------------------------------------------
if "$BIN" demo > "$WORK/demo.out" 2>&1; then
  echo "ok: morselkind demo: $(tail -1 "$WORK/demo.out")"
else
  cat "$WORK/demo.out"
  bad "morselkind demo failed"
fi

exit $fail
