#!/bin/bash
# The emulated heterogeneous machine boots and memkind gives its known answers there.
#
# Smoke test of the VM harness and of the machine it emulates: builds the VM if needed, compiles
# probe.c against libnuma + the system memkind (1.14, installed here with apt-get if missing), and
# runs it in ONE boot through a guest shell script, the way project tests are meant to run.
# Checks: the guest's NUMA layout (3 nodes, CPUs on node0 only); memkind's placement of every page
# of 4 MiB from DAX_KMEM=2, HBW=1, HIGHEST_BANDWIDTH_LOCAL=1, REGULAR=0, LOWEST_LATENCY_LOCAL=0,
# HIGHEST_CAPACITY=0; a PMEM kind on the fsdax /mnt/pmem; and run-in-vm.sh itself (--env, --file,
# working directory, exit status).
#
# Usage: bash tests/suites/vm_smoke.sh        (env: as tests/vm/build-vm.sh and run-in-vm.sh)
# Last line: "vm smoke: N passed, M failed"; exit 1 if any failed.
# When the VM cannot be built or booted here (no root/network for apt-get, no qemu, the guest never
# comes up) it says why and exits 77 (skipped). A wrong answer is never a skip.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=vm_smoke
. "$ROOT/tests/lib.sh"
HERE="$ROOT/tests/vm"

# 1. The VM.
out=$("$HERE/build-vm.sh" 2>&1); rc=$?
case $rc in
  0) echo "$out" | tail -1 ;;
  77) skip "$(echo "$out" | tail -1)" ;;
  *) echo "$out"; die "build-vm.sh failed with status $rc (a bug in it, not a missing prerequisite)" ;;
esac

# 2. The probe, against the system memkind.
PKGS="libmemkind-dev libnuma-dev"
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "$PKGS missing and not root to install them"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends $PKGS >/dev/null 2>&1; } ||
    skip "cannot install $PKGS with apt-get (no network to Debian's archive?)"
fi
T="$WORK"
cc -O2 -Wall -o "$T/probe" "$HERE/probe.c" -lmemkind -lnuma || die "probe.c does not compile"

# 3. One boot: a guest script that checks what run-in-vm.sh promised and runs the probe.
cat > "$T/guest.sh" <<'EOF'
echo "env:SMOKE_TOKEN=$SMOKE_TOKEN"
echo "cwd=$(pwd)"
./probe
echo "probe.exit=$?"
exit 42
EOF
TOKEN="a b'c \$HOME"
echo "booting the VM (10-20 s under TCG) ..."
cd "$T" || die "cd $T"
guest=$("$HERE/run-in-vm.sh" --env "SMOKE_TOKEN=$TOKEN" --file probe --file guest.sh /bin/sh guest.sh 2>"$T/stderr")
rc=$?
cd / || true
if [ $rc = 125 ]; then
  cat "$T/stderr"; echo "$guest"
  grep -q 'did not boot far enough' "$T/stderr" && skip "the guest did not boot: $(tail -1 "$T/stderr")"
  die "the guest booted but never reported an exit status: $(tail -1 "$T/stderr")"
fi
grep -a -E '^\[hetmem\] (kernel|node[0-9]:)|^\[host\]' "$T/stderr"
echo "$guest" | sed 's/^/  guest| /'

# 4. The answers.
pass=0 fail=0
check() {  # check NAME EXPECTED GOT
  if [ "$2" = "$3" ]; then
    pass=$((pass + 1)); echo "ok   $1 = $3"
  else
    fail=$((fail + 1)); echo "FAIL $1: expected '$2', got '${3:-<nothing>}'"
  fi
}
val() { echo "$guest" | sed -n "s/^$1=//p" | tail -1; }
check "run-in-vm exit status" 42 "$rc"
check "run-in-vm --env" "$TOKEN" "$(echo "$guest" | sed -n 's/^env:SMOKE_TOKEN=//p')"
check "run-in-vm working directory" "$T" "$(val cwd)"
check "probe exit status" 0 "$(val probe.exit)"
check "NUMA nodes" 3 "$(val nodes)"
check "node0 has CPUs" yes "$(val node0.cpus)"
check "node1 has CPUs" no "$(val node1.cpus)"
check "node2 has CPUs" no "$(val node2.cpus)"
for kv in DAX_KMEM=2 HBW=1 HIGHEST_BANDWIDTH_LOCAL=1 REGULAR=0 LOWEST_LATENCY_LOCAL=0 HIGHEST_CAPACITY=0; do
  check "MEMKIND_${kv%=*} node" "${kv#*=}" "$(val "MEMKIND_${kv%=*}")"
done
check "PMEM kind on /mnt/pmem" ok "$(val PMEM)"
echo "vm smoke: $pass passed, $fail failed"
[ $fail = 0 ]
