#!/bin/bash
# Shared kinds on a real DAX filesystem: tests/c/share.c's calls, fork and kill -9 rounds in
# the emulated machine (tests/vm), with the kind's file in /mnt/pmem (ext4 mounted -o dax on an
# emulated NVDIMM), and nothing left in the directory after. tests/suites/share.sh runs the same
# on this machine's memfd, ext4 and tmpfs.
# When the VM cannot be built or booted here it says why and exits 77 (skipped).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
set -uo pipefail
SUITE=vm_share
. "$ROOT/tests/lib.sh"
need_ours

need_vm

V="$WORK/vm"
mkdir -p "$V/lib"
strip -o "$V/lib/libmorselkind.so.0" "$REL/libmorselkind.so" || die "strip libmorselkind.so"
"$CC" "${CFLAGS_COMMON[@]}" -O2 -I "$ROOT/include" -I "$ROOT/tests/c" "$ROOT/tests/c/share.c" -o "$V/share" \
  -L "$REL" -lmorselkind -Wl,-rpath,"$V/lib" || die "share.c does not build"

cat >"$V/guest.sh" <<'EOF2'
run() { tag=$1; shift; "$@" >/mnt/pmem/out 2>&1; rc=$?; sed "s/^/$tag|/" /mnt/pmem/out; echo "$tag|rc=$rc"; }
mkdir -p /mnt/pmem/share
echo "mount|$(grep ' /mnt/pmem ' /proc/mounts)"
run calls ./share calls /mnt/pmem/share
run fork ./share fork /mnt/pmem/share
run kill ./share kill /mnt/pmem/share 10
echo "left|$(ls -A /mnt/pmem/share | wc -l)"
exit 0
EOF2

say "booting the VM ..."
run_vm "$V" --file share --file lib --file guest.sh /bin/sh guest.sh
guest=$VM_OUT
tagged() { printf '%s\n' "$guest" | sed -n "s/^$1|//p"; }
mount=$(tagged mount)
say "guest: $mount"
[[ "$mount" == *dax* ]] || die "/mnt/pmem is not mounted with dax in the guest: $mount"
for t in calls fork kill; do
  tagged "$t" | grep -v '^rc=' | sed "s/^/$SUITE: dax: /"
  [[ "$(tagged "$t" | sed -n 's/^rc=//p')" == 0 ]] || die "share $t on /mnt/pmem failed in the VM"
done
[[ "$(tagged left)" == 0 ]] || die "files left in /mnt/pmem/share: $(tagged left)"
say "PASS: calls, fork and kill -9 rounds with the kind's file on ext4 -o dax; nothing left"
